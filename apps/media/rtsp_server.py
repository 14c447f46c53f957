"""A local RTSP camera: GStreamer's RTSP server, for the tests' live sources and the demo's cameras.

Run by Debian's Python (python3-gi, gir1.2-gst-rtsp-server-1.0 and the good and ugly plugins:
what .ci/run installs), never the venv's, which has no GObject bindings:

    /usr/bin/python3 -I apps/media/rtsp_server.py pattern [--port 0] [--lifetime 120]
    /usr/bin/python3 -I apps/media/rtsp_server.py replay FILE [--port 8554] [--mount /camera]

`pattern` is a moving ball with a tone (H.264 + G.711 A-law, like many IP cameras). `replay`
decodes FILE once into memory and plays it on a loop as a live H.264 camera: timestamps keep
rising across the loop, so a reader joining at any time sees one unbroken stream. Either prints
`ready PORT` once it listens on 127.0.0.1 (only), and stops after --lifetime seconds (0: never).
This module imports nothing from Django, so the venv can import it for `rtsp_available()`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The Python that has GStreamer's bindings (python3-gi): Debian's, unless RTCC_GSTREAMER_PYTHON names another.
SYSTEM_PYTHON = os.environ.get("RTCC_GSTREAMER_PYTHON", "/usr/bin/python3")
SCRIPT = Path(__file__).resolve()
DEBIAN_PACKAGES = ("python3-gi", "gir1.2-gst-rtsp-server-1.0", "gstreamer1.0-plugins-base",
                   "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-ugly")
# The server, and the elements the two modes use: x264enc (ugly), qtdemux (good), an H.264 decoder for
# the replay (openh264dec in bad, or avdec_h264 in gstreamer1.0-libav). Prints what is missing.
_PROBE = """
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer
Gst.init(None)
needed = [('x264enc',), ('qtdemux',), ('h264parse',), ('openh264dec', 'avdec_h264'), ('videoscale',), ('appsrc',)]
print(' '.join(n[0] for n in needed if not any(Gst.ElementFactory.find(e) for e in n)))
"""

PATTERN = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=12 ! rtph264pay name=pay0 pt=96"
    "  audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1"
    " ! alawenc ! rtppcmapay name=pay1 pt=8 )"
)
# The replay: 640x360 at 25 fps (what a phone's 360p clip needs), a keyframe every half second so a
# reader that joins late starts quickly. One encoder however many readers (a shared media).
WIDTH, HEIGHT, FPS = 640, 360, 25
RAW_CAPS = f"video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate={FPS}/1"
REPLAY = (
    f"( appsrc name=frames is-live=true format=time caps={RAW_CAPS}"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=12 ! rtph264pay name=pay0 pt=96 )"
)


def rtsp_unavailable_reason() -> str:
    """Why this machine cannot run the server ("" if it can): Debian's GStreamer RTSP server is missing."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing: the RTSP server runs on the system Python with python3-gi."
    try:
        result = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, timeout=30,  # noqa: S603
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"GStreamer could not be probed ({type(exc).__name__})."
    install = "apt-get install " + " ".join(DEBIAN_PACKAGES)
    if result.returncode != 0:
        return f"GStreamer's RTSP server is not installed ({install})."
    missing = result.stdout.decode(errors="replace").strip()
    if missing:
        return f"GStreamer lacks {missing.replace(' ', ', ')} ({install})."
    return ""


def rtsp_available() -> bool:
    return not rtsp_unavailable_reason()


def server_command(mode: str, *args: str) -> list[str]:
    # -I: not this folder on sys.path, where selectors.py would shadow the standard library's.
    return [SYSTEM_PYTHON, "-I", str(SCRIPT), mode, *args]


# --- the server process (system Python only) ---------------------------------------------------------


def _decode(path: Path, Gst: Any) -> list[bytes]:
    """Every frame of the file as raw I420 at the replay's size and rate."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! videoconvert ! videoscale ! videorate ! {RAW_CAPS} '
        "! appsink name=out sync=false emit-signals=false")
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    frames = []
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buffer = sample.get_buffer()
        frames.append(buffer.extract_dup(0, buffer.get_size()))
    pipeline.set_state(Gst.State.NULL)
    if not frames:
        raise SystemExit(f"{path}: no video frames could be decoded")
    return frames


def _replay_factory(frames: list[bytes], Gst: Any, GstRtspServer: Any) -> Any:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(REPLAY)
    frame_ns = Gst.SECOND // FPS

    def configure(_factory: Any, media: Any) -> None:
        source = media.get_element().get_child_by_name("frames")
        count = [0]

        def need_data(src: Any, _length: int) -> None:
            n = count[0]
            buffer = Gst.Buffer.new_wrapped(frames[n % len(frames)])
            buffer.pts = buffer.dts = n * frame_ns
            buffer.duration = frame_ns
            count[0] = n + 1
            src.emit("push-buffer", buffer)

        source.connect("need-data", need_data)

    factory.connect("media-configure", configure)
    return factory


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="A local RTSP camera on 127.0.0.1.")
    parser.add_argument("mode", choices=["pattern", "replay"])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", default="/camera")
    parser.add_argument("--lifetime", type=int, default=0, help="seconds; 0 runs until stopped")
    options = parser.parse_args(argv)

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(options.port))
    if options.mode == "replay":
        if options.file is None:
            parser.error("replay needs a FILE")
        factory = _replay_factory(_decode(options.file, Gst), Gst, GstRtspServer)
    else:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(PATTERN)
    factory.set_shared(True)
    server.get_mount_points().add_factory(options.mount, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"port {options.port} on 127.0.0.1 is not free")
    print("ready", server.get_bound_port(), flush=True)
    loop = GLib.MainLoop()
    if options.lifetime:
        GLib.timeout_add_seconds(options.lifetime, loop.quit)
    loop.run()


if __name__ == "__main__":
    main(sys.argv[1:])
