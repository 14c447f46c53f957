"""Clip transcoding speed: the project's PyAV pipeline against the ffmpeg command line, same settings.

Generates a 30-second 1080p30 source in the run (a moving test pattern and a stereo tone,
H.264 High at about 8 Mbit/s + AAC, like a good IP camera), then encodes it to 360p, to
720p, and to both from one decode, through `apps.media.transcode.transcode` and through
Debian's ffmpeg (one run with two outputs for "both"), with the same encoder settings: x264
preset, High profile level 4.1, bitrates and VBV, keyframe interval, bilinear scaling, AAC
stereo at 48 kHz, faststart, no metadata. Runs are interleaved so both see the same machine
noise; the figures are medians.

    .venv/bin/python bench/transcode.py [--runs 3] [--seconds 30] [--ffmpeg /usr/bin/ffmpeg] [--smoke]

--smoke makes a 3-second source and runs each mode once (seconds): it fails when the ffmpeg CLI
is missing, when either pipeline fails, or when a rendition comes out of the wrong size.

Targets on 2 cores: 360p >= 5x real time, 720p >= 3x, both >= 2.5x, and the PyAV/CLI wall-time
ratio for "both" <= 1.1. The last line is `transcode x360=<n> x720=<n> xboth=<n> ratio=<r>`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _support import ROOT, Stats

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av

from apps.media.transcode import (
    AUDIO_RATE,
    KEYFRAME_INTERVAL_S,
    RENDITION_360P,
    RENDITION_720P,
    X264_PRESET,
    Rendition,
    cpu_count,
    output_size,
    transcode,
)

WIDTH, HEIGHT, FPS = 1920, 1080, 30
SOURCE_BITRATE = 8_000_000
MODES: dict[str, tuple[Rendition, ...]] = {
    "360p": (RENDITION_360P,),
    "720p": (RENDITION_720P,),
    "both": (RENDITION_360P, RENDITION_720P),
}


def make_source(path: Path, seconds: int) -> None:
    """A 1080p30 H.264 + AAC stereo MP4, audio and video interleaved as a camera recording is."""
    video_in = av.open(f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}", format="lavfi")
    audio_in = av.open(f"sine=frequency=440:sample_rate={AUDIO_RATE}:duration={seconds}", format="lavfi")
    out = av.open(str(path), "w", options={"movflags": "+faststart"})
    video = out.add_stream("libx264", rate=FPS, options={
        "preset": "superfast", "profile": "high", "g": str(FPS * 2),
        "maxrate": str(SOURCE_BITRATE * 3 // 2), "bufsize": str(SOURCE_BITRATE * 2)})
    video.width, video.height, video.pix_fmt, video.bit_rate = WIDTH, HEIGHT, "yuv420p", SOURCE_BITRATE
    video.codec_context.thread_count = cpu_count()
    audio = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
    audio.bit_rate = 128_000
    sounds = audio_in.decode(audio=0)
    sound_time = 0.0
    for frame in video_in.decode(video=0):
        out.mux(video.encode(frame))
        while sound_time <= float(frame.time or 0.0):
            sound = next(sounds, None)
            if sound is None:
                break
            sound_time = float(sound.time or 0.0)
            out.mux(audio.encode(sound))  # the encoder's own resampler makes the mono tone stereo
    out.mux(video.encode(None))
    out.mux(audio.encode(None))
    out.close()


def ffmpeg_command(ffmpeg: str, source: Path, out_dir: Path, renditions: Sequence[Rendition]) -> list[str]:
    """The CLI equivalent of `transcode`: one decode, a split, one scaler and one x264 per rendition."""
    threads = str(cpu_count())
    labels = [f"v{i}" for i in range(len(renditions))]
    split = f"[0:v]split={len(renditions)}" + "".join(f"[s{i}]" for i in range(len(renditions)))
    scales = [f"[s{i}]scale={w}:{h}:flags=bilinear[{labels[i]}]"
              for i, (w, h) in enumerate(output_size(WIDTH, HEIGHT, r.height) for r in renditions)]
    command = [ffmpeg, "-hide_banner", "-v", "error", "-y", "-threads", threads, "-i", str(source),
               "-filter_complex", ";".join([split, *scales])]
    for label, rendition in zip(labels, renditions, strict=True):
        bitrate = rendition.video_bitrate
        command += [
            "-map", f"[{label}]", "-map", "0:a",
            "-c:v", "libx264", "-preset", X264_PRESET, "-profile:v", "high", "-level", "4.1",
            "-b:v", str(bitrate), "-maxrate", str(bitrate * 3 // 2), "-bufsize", str(bitrate * 2),
            "-g", str(FPS * KEYFRAME_INTERVAL_S), "-pix_fmt", "yuv420p", "-threads", threads,
            "-c:a", "aac", "-b:a", str(rendition.audio_bitrate), "-ac", "2", "-ar", str(AUDIO_RATE),
            "-map_metadata", "-1", "-fflags", "+bitexact", "-movflags", "+faststart",
            str(out_dir / f"{rendition.name}.mp4"),
        ]
    return command


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed_pyav(source: Path, out_dir: Path, renditions: Sequence[Rendition]) -> tuple[float, float]:
    """Wall and CPU seconds of one `transcode`; SystemExit if a rendition is missing or of the wrong size."""
    cpu, started = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    result = transcode(source, out_dir, renditions, max_seconds=3600)
    wall, used = time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu
    made = [(o.rendition, o.width, o.height) for o in result.outputs]
    wanted = [(r.name, *output_size(WIDTH, HEIGHT, r.height)) for r in renditions]
    if made != wanted:
        raise SystemExit(f"transcode made {made}, expected {wanted}")
    return wall, used


def timed_cli(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ffmpeg run."""
    cpu, started = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True)  # noqa: S603
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--ffmpeg", default=shutil.which("ffmpeg") or "/usr/bin/ffmpeg")
    parser.add_argument("--smoke", action="store_true", help="a 3 s source, one run: fails when broken")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.runs = 3, 1
    if shutil.which(args.ffmpeg) is None:
        raise SystemExit(f"no ffmpeg command line at {args.ffmpeg}: the baseline needs it (apt-get install ffmpeg)")

    with tempfile.TemporaryDirectory(prefix="rtcc_bench_transcode_") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        started = time.perf_counter()
        make_source(source, args.seconds)
        print(f"source: {args.seconds} s {WIDTH}x{HEIGHT}@{FPS} H.264 + AAC stereo, "
              f"{source.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - started:.1f} s; "
              f"{cpu_count()} CPUs; x264 preset {X264_PRESET}", file=sys.stderr)
        pyav: dict[str, list[float]] = {mode: [] for mode in MODES}
        cli: dict[str, list[float]] = {mode: [] for mode in MODES}
        pyav_cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        cli_cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        for run in range(args.runs):
            for mode, renditions in MODES.items():
                out = work / f"{mode}-{run}"
                wall, cpu = timed_pyav(source, out / "pyav", renditions)
                pyav[mode].append(wall)
                pyav_cpu[mode].append(cpu)
                (out / "cli").mkdir(parents=True)
                wall, cpu = timed_cli(ffmpeg_command(args.ffmpeg, source, out / "cli", renditions))
                for rendition in renditions:
                    if not (out / "cli" / f"{rendition.name}.mp4").stat().st_size:
                        raise SystemExit(f"ffmpeg wrote an empty {rendition.name}")
                cli[mode].append(wall)
                cli_cpu[mode].append(cpu)
                shutil.rmtree(out)
                print(f"run {run + 1}/{args.runs} {mode:>4}: pyav {pyav[mode][-1]:6.2f} s ({pyav_cpu[mode][-1]:5.1f} "
                      f"CPU s)  cli {cli[mode][-1]:6.2f} s ({cli_cpu[mode][-1]:5.1f} CPU s)", file=sys.stderr)

    # CPU seconds say what the wall clock cannot on a shared machine: the work itself, whoever else runs.
    speed = {mode: args.seconds / Stats(pyav[mode]).median for mode in MODES}
    print(f"{'mode':<6}{'pyav s':>9}{'pyav x':>9}{'cpu s':>8}{'cli s':>9}{'cli x':>9}{'cpu s':>8}{'ratio':>8}"
          f"   (medians of {args.runs})")
    for mode in MODES:
        p, c = Stats(pyav[mode]).median, Stats(cli[mode]).median
        print(f"{mode:<6}{p:>9.2f}{args.seconds / p:>9.2f}{Stats(pyav_cpu[mode]).median:>8.1f}"
              f"{c:>9.2f}{args.seconds / c:>9.2f}{Stats(cli_cpu[mode]).median:>8.1f}{p / c:>8.2f}")
    ratio = Stats(pyav["both"]).median / Stats(cli["both"]).median
    print("targets: 360p >= 5x, 720p >= 3x, both >= 2.5x, ratio <= 1.1 (2 cores)")
    print(f"transcode x360={speed['360p']:.2f} x720={speed['720p']:.2f} xboth={speed['both']:.2f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
