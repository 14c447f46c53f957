"""Live camera stand-ins for tests: MPEG-TS over UDP or HTTP, RTSP through GStreamer, and sources that never answer.

The RTSP camera is apps/media/rtsp_server.py, the server the demo's cameras replay through too.

Each source runs in its own process (so the GIL of the process under test does not pace it),
listens or sends on 127.0.0.1 only, and is a context manager that always stops its process.
Run as a script, this module is that process:

    python tests/media/live_sources.py udp PORT [SECONDS]    # send MPEG-TS datagrams to 127.0.0.1:PORT
    python tests/media/live_sources.py http [SECONDS]        # serve MPEG-TS on http://127.0.0.1:<printed port>/
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

# A camera-like stream, small so encoding it costs little CPU next to the code under test:
# 320x240 at 25 fps, a keyframe every half second so a reader that joins late starts quickly.
WIDTH, HEIGHT, FPS, GOP = 320, 240, 25, 12
# Seven 188-byte TS packets: the usual MPEG-TS-over-UDP datagram, under any Ethernet MTU.
UDP_PAYLOAD = 7 * 188
# A source stops on its own after this long even if the context manager is never left.
DEFAULT_LIFETIME_S = 120.0
READY_TIMEOUT_S = 15.0
def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _running(args: list[str]) -> Iterator[int]:
    """Start a source process, wait for its `ready PORT` line, and stop it on the way out."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # noqa: S603
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""),
                         daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(f"live source {args[1:]} did not start") from None
        if not line.startswith("ready "):
            raise RuntimeError(f"live source {args[1:]} failed to start")
        yield int(line.split()[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def udp_mpegts_source(*, lifetime_s: float = DEFAULT_LIFETIME_S) -> Iterator[str]:
    """A camera sending MPEG-TS (H.264 + AAC stereo) to udp://127.0.0.1:PORT; yields the URL to read from."""
    port = free_port(socket.SOCK_DGRAM)
    with _running([sys.executable, __file__, "udp", str(port), str(lifetime_s)]):
        yield f"udp://127.0.0.1:{port}"


@contextlib.contextmanager
def http_mpegts_source(*, lifetime_s: float = DEFAULT_LIFETIME_S) -> Iterator[str]:
    """A camera serving MPEG-TS (H.264 with B-frames + AAC stereo) on http://127.0.0.1:PORT/ to any reader."""
    with _running([sys.executable, __file__, "http", str(lifetime_s)]) as port:
        yield f"http://127.0.0.1:{port}/"


def rtsp_available() -> bool:
    # Imported here: run as a script (the UDP and HTTP sources), this module has no `apps` on its path.
    from apps.media.rtsp_server import rtsp_available as available

    return available()


@contextlib.contextmanager
def rtsp_source(*, lifetime_s: float = DEFAULT_LIFETIME_S) -> Iterator[str]:
    """A camera on rtsp://127.0.0.1:PORT/camera (H.264 + G.711 A-law mono, like many IP cameras)."""
    from apps.media.rtsp_server import server_command

    with _running(server_command("pattern", "--lifetime", str(int(lifetime_s)))) as port:
        yield f"rtsp://127.0.0.1:{port}/camera"


@contextlib.contextmanager
def silent_udp_source() -> Iterator[str]:
    """A UDP camera that never sends anything."""
    yield f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"


@contextlib.contextmanager
def silent_http_source() -> Iterator[str]:
    """An HTTP camera that accepts the connection and then never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        # The kernel completes the handshake for queued connections; nobody ever accepts them.
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


# --- the source process ---------------------------------------------------------------------------


class _FanOut:
    """The file the MPEG-TS muxer writes to: hands every byte to each UDP peer or HTTP reader."""

    def __init__(self) -> None:
        self.udp: tuple[socket.socket, tuple[str, int]] | None = None
        self.pending = b""
        self.readers: list[queue.Queue[bytes]] = []
        self.lock = threading.Lock()

    def write(self, data: bytes) -> int:
        if self.udp is not None:
            sock, address = self.udp
            self.pending += bytes(data)
            while len(self.pending) >= UDP_PAYLOAD:
                with contextlib.suppress(OSError):
                    sock.sendto(self.pending[:UDP_PAYLOAD], address)
                self.pending = self.pending[UDP_PAYLOAD:]
        with self.lock:
            for reader in self.readers:
                # A reader that stopped reading is dropped rather than buffered without bound.
                if reader.qsize() < 1000:
                    reader.put(bytes(data))
        return len(data)


def _serve_http(fan_out: _FanOut) -> int:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reader: queue.Queue[bytes] = queue.Queue()
            with fan_out.lock:
                fan_out.readers.append(reader)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                while True:
                    self.wfile.write(reader.get(timeout=10))
            except (OSError, queue.Empty):
                pass
            finally:
                with fan_out.lock:
                    fan_out.readers.remove(reader)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def _broadcast(fan_out: _FanOut, lifetime_s: float, *, bframes: int) -> None:
    """Encode a test pattern and a tone to MPEG-TS in real time until the lifetime is over."""
    import av

    video_in = av.open(f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}", format="lavfi")
    audio_in = av.open("sine=frequency=440:sample_rate=48000", format="lavfi")
    out = av.open(fan_out, "w", format="mpegts")
    video = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "g": str(GOP), "bf": str(bframes),
                                                         "rc-lookahead": "0", "sync-lookahead": "0"})
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    audio = out.add_stream("aac", rate=48000, layout="stereo")
    audio_frames = audio_in.decode(audio=0)
    started = time.monotonic()
    audio_time = 0.0
    for frame in video_in.decode(video=0):
        now = time.monotonic() - started
        if now > lifetime_s:
            break
        due = float(frame.time or 0.0)
        if due > now:
            time.sleep(due - now)
        frame.pict_type = av.video.frame.PictureType.NONE
        out.mux(video.encode(frame))
        while audio_time <= due:
            sound = next(audio_frames)
            audio_time = float(sound.time or 0.0)
            out.mux(audio.encode(sound))
    out.close()


def main(argv: list[str]) -> None:
    fan_out = _FanOut()
    if argv[0] == "udp":
        port, lifetime_s = int(argv[1]), float(argv[2])
        fan_out.udp = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM), ("127.0.0.1", port))
    else:
        lifetime_s = float(argv[1])
        port = _serve_http(fan_out)
    print("ready", port, flush=True)
    # The HTTP camera sends B-frames (decode order differs from display order), the UDP one does not.
    _broadcast(fan_out, lifetime_s, bframes=0 if argv[0] == "udp" else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
