"""The one clip pipeline: a video file or a live camera to phone-ready H.264/AAC MP4 renditions.

Pure PyAV, no Django models. One decode pass feeds every rendition: each decoded frame is
scaled once per rendition (one reusable scaler each) and handed to that rendition's x264
encoder, and the audio is downmixed to stereo once and encoded per rendition. Outputs are
MP4 with the `moov` box first (`+faststart`) so a phone starts playing before the download
ends, and carry no metadata from the source (titles, GPS, device names).

Whatever goes wrong, `transcode` leaves nothing of its own in `out_dir` and raises
`TranscodeError` with a machine-readable `code`. `bench/transcode.py` measures it against
the ffmpeg command line.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import av.error
from av.audio.resampler import AudioResampler
from av.container import InputContainer, OutputContainer
from av.video.frame import PictureType
from av.video.reformatter import Interpolation, VideoReformatter


@dataclass(frozen=True)
class Rendition:
    name: str
    height: int
    video_bitrate: int
    audio_bitrate: int


# 360p at ~500 kbit/s is the cellular default: a 20 s clip is about 1.5 MB, playable on 3G.
RENDITION_360P = Rendition("360p", 360, 500_000, 96_000)
RENDITION_720P = Rendition("720p", 720, 2_500_000, 128_000)
RENDITIONS = {"360p": RENDITION_360P, "720p": RENDITION_720P}


@dataclass(frozen=True)
class RenditionOutput:
    rendition: str
    path: Path
    width: int
    height: int
    size_bytes: int
    has_audio: bool


@dataclass(frozen=True)
class RenditionPlan:
    """What became of one asked-for rendition, and why: the job tells its user."""

    rendition: str
    width: int
    height: int
    made: bool
    reason: str


@dataclass(frozen=True)
class ClipOutput:
    duration_s: float
    outputs: list[RenditionOutput]
    poster_path: Path
    plan: list[RenditionPlan]


@dataclass(frozen=True)
class SourceInfo:
    duration_s: float | None  # None for a live source
    width: int
    height: int
    has_audio: bool
    audio_channels: int
    is_live: bool
    video_codec: str


class TranscodeError(Exception):
    """A clip that cannot be made; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Demuxers we let near untrusted bytes. FFmpeg otherwise guesses among hundreds (a JPEG renamed
# .mp4 opens as a one-frame "video", a text file as a playlist); each is attack surface.
FILE_FORMATS = "mov,mp4,matroska,webm,mpegts,avi,flv"
LIVE_FORMATS = FILE_FORMATS + ",rtsp,hls"
# Protocols per URL scheme: an uploaded file, or an HLS playlist, must not make FFmpeg open
# file:// or other URLs on our side.
LIVE_PROTOCOLS = {
    "udp": "udp",
    "http": "http,https,tcp,tls,crypto",
    "https": "http,https,tcp,tls,crypto",
    "rtsp": "rtsp,rtp,udp,tcp",
    "rtsps": "rtsp,rtsps,rtp,udp,tcp,tls",
}
# Decoders likewise: what cameras, phones and body cams actually produce.
VIDEO_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "mjpeg", "vp8", "vp9", "av1", "h263"})
AUDIO_CODECS = frozenset({"aac", "mp3", "mp2", "opus", "vorbis", "ac3", "eac3", "pcm_alaw", "pcm_mulaw",
                          "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le", "adpcm_g726"})
# DCI 4K: nothing a camera sends is larger, and a bigger frame is a decoder memory bomb.
MAX_SOURCE_PIXELS = 4096 * 2304
# Live streams: probe at most 2 s so the open fits in the open timeout.
LIVE_ANALYZE_US = "2000000"

# superfast is the fastest x264 preset that still codes High profile (CABAC, 8x8 transform);
# ultrafast drops to Constrained Baseline. veryfast costs 1.5 times its CPU per 720p frame,
# which would leave both renditions from 1080p well short of 2.5x real time on 2 cores.
X264_PRESET = "superfast"
# A keyframe every 2 s, so a phone seeking in a 20 s clip lands within 2 s of where it asked.
KEYFRAME_INTERVAL_S = 2
# Bilinear: a sixth of a 720p frame's encode time to scale it from 1080p, and no visible aliasing down to 360p.
INTERPOLATION = Interpolation.BILINEAR
# x264 and the decoder already keep the cores busy; a threaded scaler measured slower on 2 cores.
SCALER_THREADS = 1
AUDIO_RATE = 48_000
VIDEO_TIME_BASE = Fraction(1, 90_000)
POSTER_AT_S = 1.0  # past the black or half-built first frames many cameras start with
POSTER_QUALITY = 80
# A file whose video ends this much short of its header's duration is truncated, not short.
TRUNCATION_SLACK_S = 1.0
# Calls to should_cancel may hit a database or cache; ask at most this often.
CANCEL_POLL_S = 0.5


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_size(source_width: int, source_height: int, rendition_height: int, sample_aspect: float = 1.0) -> tuple[
        int, int]:
    """Width and height for a rendition: square pixels, both even (x264 wants 4:2:0), and never upscaled.

    Never upscaled in either dimension: non-square pixels (sample_aspect, the width of a source
    pixel over its height) are made square by reducing the dimension they stretch, never by
    widening the other, so a 176x144 picture of 128:117 pixels becomes 176x132, not 192x144.
    The rendition's height is the picture's short side, so a portrait phone video gets 360x640
    at 360p, not a 202x360 postage stamp.
    """
    width, height = float(source_width), float(source_height)
    if sample_aspect > 1:
        height = source_height / sample_aspect
    elif sample_aspect < 1:
        width = source_width * sample_aspect
    scale = min(1.0, rendition_height / min(width, height))
    # Rounding to even may not take a dimension past the source's own pixels.
    return (min(_even(width * scale), max(2, source_width // 2 * 2)),
            min(_even(height * scale), max(2, source_height // 2 * 2)))


def rendition_plan(source_width: int, source_height: int, renditions: Sequence[Rendition],
                   sample_aspect: float = 1.0) -> list[RenditionPlan]:
    """Each rendition's size, smallest first; one that would come out the size of a smaller one is not made.

    A small source's "720p" would be its "360p" again at several times the bytes: a phone asking
    for it gets the one that exists.
    """
    plans: list[RenditionPlan] = []
    made: dict[tuple[int, int], str] = {}
    source = f"{source_width}x{source_height}"
    square = "" if sample_aspect == 1 else (
        f" ({Fraction(sample_aspect).limit_denominator(1000)} pixels made square by reducing its "
        f"{'height' if sample_aspect > 1 else 'width'})")
    for rendition in sorted(renditions, key=lambda r: r.height):
        width, height = output_size(source_width, source_height, rendition.height, sample_aspect)
        same = made.get((width, height))
        if same is not None:
            plans.append(RenditionPlan(rendition.name, width, height, made=False, reason=(
                f"Not made: from the {source} source{square} it would be {width}x{height}, the same as {same}.")))
            continue
        made[(width, height)] = rendition.name
        short_of_it = min(width, height) < rendition.height
        plans.append(RenditionPlan(rendition.name, width, height, made=True, reason=(
            f"{width}x{height}, the {source} source's own size{square}: never upscaled." if short_of_it else
            f"{width}x{height}, scaled down from the {source} source{square}.")))
    return plans


def is_live(source: str | Path) -> bool:
    """A camera URL (read for the next N seconds) rather than a file (read whole)."""
    return isinstance(source, str) and urlsplit(source).scheme in LIVE_PROTOCOLS


def open_source(source: str | Path, open_timeout_s: float) -> InputContainer:
    """Open a file or camera URL through the allowlists, giving up after `open_timeout_s` of silence per read."""
    live = is_live(source)
    options = {"format_whitelist": LIVE_FORMATS if live else FILE_FORMATS}
    if live:
        scheme = urlsplit(str(source)).scheme
        options["protocol_whitelist"] = LIVE_PROTOCOLS[scheme]
        options["analyzeduration"] = LIVE_ANALYZE_US
        if scheme.startswith("rtsp"):
            # Over TCP: RTP over UDP loses packets across the links cameras sit behind.
            options["rtsp_transport"] = "tcp"
    else:
        options["protocol_whitelist"] = "file"
    timeout: Any = (open_timeout_s, open_timeout_s)
    try:
        return av.open(str(source), "r", options=options, timeout=timeout)
    except av.error.ExitError:
        raise TranscodeError("source_timeout", f"The source did not answer within {open_timeout_s:g} s.") from None
    except (av.error.FFmpegError, OSError) as exc:
        if live:
            raise TranscodeError("source_unavailable", "The live source could not be opened.") from exc
        raise TranscodeError("unreadable_source", "The file is not a video we can read.") from exc


def _describe(container: InputContainer, *, live: bool) -> SourceInfo:
    if not container.streams.video:
        raise TranscodeError("no_video", "The source has no video.")
    video = container.streams.video[0]
    codec = video.codec_context.name
    if codec not in VIDEO_CODECS:
        raise TranscodeError("unsupported_codec", f"Video coded as {codec} is not supported.")
    width, height = video.codec_context.width, video.codec_context.height
    if width <= 0 or height <= 0:
        raise TranscodeError("unreadable_source", "The video has no picture size.")
    if width * height > MAX_SOURCE_PIXELS:
        raise TranscodeError("too_large", f"Video of {width}x{height} is larger than 4K.")
    audio = usable_audio(container)
    duration: float | None = None
    if not live:
        if video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        if duration is not None and container.format.name.startswith("mov"):
            _check_complete(container, video, duration)
    return SourceInfo(
        duration_s=duration,
        width=width,
        height=height,
        has_audio=audio is not None,
        audio_channels=audio.codec_context.channels if audio is not None else 0,
        is_live=live,
        video_codec=codec,
    )


def _check_complete(container: InputContainer, video: Any, duration: float) -> None:
    """An MP4 with its index first can be cut short by a failed upload; its last seconds are then missing."""
    container.seek(round(max(0.0, duration - TRUNCATION_SLACK_S) / video.time_base), stream=video)
    try:
        complete = any(packet.size > 0 for packet in container.demux(video))
    except av.error.FFmpegError:
        complete = False
    if not complete:
        raise TranscodeError("truncated_source", "The file is cut short: its last seconds are missing.")
    container.seek(0)


def usable_audio(container: InputContainer) -> Any:
    """The first audio stream we can decode, or None: a clip of a camera with odd audio is video-only."""
    for stream in container.streams.audio:
        if stream.codec_context.name in AUDIO_CODECS and stream.codec_context.channels > 0:
            return stream
    return None


def probe(source: str | Path, *, open_timeout_s: float = 5.0) -> SourceInfo:
    """What a source holds, from its header only: fails fast on empty, truncated or non-video files."""
    container = open_source(source, open_timeout_s)
    try:
        return _describe(container, live=is_live(source))
    finally:
        container.close()


class _Output:
    """One rendition being written: its MP4, its encoders and its scaler."""

    def __init__(self, rendition: Rendition, path: Path, *, width: int, height: int, fps: Fraction,
                 rotation: int, with_audio: bool) -> None:
        self.rendition = rendition
        self.path = path
        self.width = width
        self.height = height
        self.scaler = VideoReformatter()
        self.last_pts = -1
        self.container: OutputContainer = av.open(
            str(path), "w", format="mp4",
            # bitexact: no "encoder" tag or creation time in the file, like no other metadata.
            options={"movflags": "+faststart", "fflags": "+bitexact"})
        # A source smaller than the rendition needs fewer bits for the same quality.
        bitrate = round(rendition.video_bitrate * min(1.0, min(width, height) / rendition.height))
        video = self.container.add_stream("libx264", rate=fps, options={
            "preset": X264_PRESET,
            "profile": "high",
            "level": "4.1",
            "g": str(max(1, round(float(fps) * KEYFRAME_INTERVAL_S))),
            # A 2 s buffer at 1.5x the average keeps bursts within what a cellular link carries.
            "maxrate": str(bitrate * 3 // 2),
            "bufsize": str(bitrate * 2),
        })
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bitrate
        # Timestamps pass through at 90 kHz: live cameras jitter, and rounding to 1/fps would collide.
        video.codec_context.time_base = VIDEO_TIME_BASE
        video.time_base = VIDEO_TIME_BASE
        video.codec_context.thread_type = "FRAME"
        video.codec_context.thread_count = cpu_count()
        if rotation:
            # Phones record landscape pixels and a display matrix; players honour it, so pass it on.
            video.set_display_rotation(rotation)
        self.video = video
        self.audio: Any = None
        if with_audio:
            audio = self.container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            audio.bit_rate = rendition.audio_bitrate
            self.audio = audio

    def add_video(self, frame: av.VideoFrame, pts: int) -> av.VideoFrame | None:
        if pts <= self.last_pts:  # a repeated timestamp from a jittery live source: x264 refuses it
            return None
        self.last_pts = pts
        scaled = self.scaler.reformat(frame, self.width, self.height, "yuv420p", interpolation=INTERPOLATION,
                                      threads=SCALER_THREADS)
        scaled.pts = pts
        scaled.time_base = VIDEO_TIME_BASE
        self.container.mux(self.video.encode(scaled))
        return scaled

    def add_audio(self, frame: av.AudioFrame) -> None:
        if self.audio is not None:
            self.container.mux(self.audio.encode(frame))

    def finish(self) -> RenditionOutput:
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        # Closing writes the moov and, for +faststart, moves it before the mdat.
        self.container.close()
        return RenditionOutput(rendition=self.rendition.name, path=self.path, width=self.width, height=self.height,
                               size_bytes=self.path.stat().st_size, has_audio=self.audio is not None)

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()
        self.path.unlink(missing_ok=True)


def transcode(
    source: str | Path,
    out_dir: Path,
    renditions: Sequence[Rendition],
    *,
    max_seconds: float,
    progress: Callable[[float, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    open_timeout_s: float = 5.0,
) -> ClipOutput:
    """Transcode a file, or the next `max_seconds` of a live source, to every rendition in one decode pass.

    A file longer than `max_seconds` is refused (`too_long`) from its header. `progress` gets
    (percent 0-100, stage), stages opening, transcoding, finishing, poster, done; `should_cancel`
    is polled about twice a second. Writes `<rendition name>.mp4` files and `poster.jpg` in
    `out_dir`, and deletes them (and `out_dir`, if it made it) on any failure or cancel.
    """
    if not renditions:
        raise ValueError("at least one rendition is needed")
    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    created_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    job = _Job(source, out_dir, renditions, max_seconds=max_seconds, progress=progress,
               should_cancel=should_cancel, open_timeout_s=open_timeout_s)
    try:
        return job.run()
    except BaseException as exc:
        for output in job.outputs:
            output.abandon()
        job.poster_path.unlink(missing_ok=True)
        if created_dir:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        if isinstance(exc, av.error.FFmpegError):
            raise TranscodeError("transcode_failed", "The clip could not be encoded.") from exc
        raise


class _Job:
    """One transcode: the source, the outputs made from its first frame, and where it has got to."""

    def __init__(self, source: str | Path, out_dir: Path, renditions: Sequence[Rendition], *, max_seconds: float,
                 progress: Callable[[float, str], None] | None, should_cancel: Callable[[], bool] | None,
                 open_timeout_s: float) -> None:
        self.source = source
        self.out_dir = out_dir
        self.renditions = sorted(renditions, key=lambda r: r.height)
        self.max_seconds = max_seconds
        self.progress = progress
        self.last_progress: tuple[int, str] = (-1, "")
        self.should_cancel = should_cancel
        self.open_timeout_s = open_timeout_s
        self.live = is_live(source)
        self.outputs: list[_Output] = []
        self.plan: list[RenditionPlan] = []
        self.poster_path = out_dir / "poster.jpg"
        self.poster: av.VideoFrame | None = None
        self.t0: float | None = None  # source time of the clip's first frame
        self.last_video_s = 0.0
        self.has_audio = False

    def report(self, percent: float, stage: str) -> None:
        """Calls progress when the whole percent or the stage changes, not for every frame."""
        percent = min(100.0, max(0.0, percent))
        key = (int(percent), stage)
        if self.progress is not None and key != self.last_progress:
            self.last_progress = key
            self.progress(percent, stage)

    def run(self) -> ClipOutput:
        self.report(0, "opening")
        container = open_source(self.source, self.open_timeout_s)
        try:
            info = _describe(container, live=self.live)
            if info.duration_s is not None and info.duration_s > self.max_seconds + 0.5:
                raise TranscodeError("too_long", f"The video is {info.duration_s:.0f} s long; the limit is "
                                                 f"{self.max_seconds:.0f} s.")
            self.report(0, "transcoding")
            self._decode(container, info)
        finally:
            container.close()
        if self.t0 is None or self.poster is None:
            raise TranscodeError("source_timeout" if self.live else "unreadable_source",
                                 "The source held no video frames.")
        if info.duration_s is not None and self.last_video_s < min(info.duration_s, self.max_seconds) - max(
                TRUNCATION_SLACK_S, 0.1 * info.duration_s):
            raise TranscodeError("truncated_source", f"The file ends after {self.last_video_s:.1f} s of the "
                                                     f"{info.duration_s:.1f} s its header announces.")
        self.report(95, "finishing")
        results = [output.finish() for output in self.outputs]
        self.report(98, "poster")
        # The poster is a still, not a video track: turn its pixels the way the display matrix says.
        self.poster.to_image().rotate(self.poster.rotation, expand=True).save(
            self.poster_path, "JPEG", quality=POSTER_QUALITY)
        self.report(100, "done")
        fps = self.outputs[0].video.codec_context.framerate or Fraction(30)
        return ClipOutput(duration_s=round(self.last_video_s + float(1 / fps), 3), outputs=results,
                          poster_path=self.poster_path, plan=self.plan)

    def _decode(self, container: InputContainer, info: SourceInfo) -> None:
        video = container.streams.video[0]
        video.codec_context.thread_type = "AUTO"
        video.codec_context.thread_count = cpu_count()
        audio = usable_audio(container)
        resampler = AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE) if audio else None
        self.has_audio = audio is not None
        expected = min(self.max_seconds, info.duration_s) if info.duration_s else self.max_seconds
        started = time.monotonic()
        next_cancel_poll = started
        packets = iter(container.demux([video, audio] if audio else [video]))
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.ExitError:
                # The read timeout: a live camera went quiet. What arrived before it is still a clip.
                if self.t0 is None:
                    raise TranscodeError("source_timeout",
                                         f"The source sent no video within {self.open_timeout_s:g} s.") from None
                return
            except av.error.FFmpegError as exc:
                if self.t0 is None:
                    raise TranscodeError("unreadable_source", "The source could not be read.") from exc
                return  # a damaged end of file (caught by the truncation check) or a dropped stream
            if self.should_cancel is not None and time.monotonic() >= next_cancel_poll:
                next_cancel_poll = time.monotonic() + CANCEL_POLL_S
                if self.should_cancel():
                    raise TranscodeError("cancelled", "The clip was cancelled.")
            if self.live and time.monotonic() - started > self.max_seconds + self.open_timeout_s + 5:
                return  # a live source whose clock stalled: stop by the wall clock
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # one corrupt packet (UDP loss, a damaged file): conceal it and go on
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    if not self._add_video(frame, video):
                        return
                    self.report(95 * self.last_video_s / expected, "transcoding")
                elif isinstance(frame, av.AudioFrame) and resampler is not None and self.t0 is not None:
                    for sound in resampler.resample(frame):
                        self._add_audio(sound)

    def _add_video(self, frame: av.VideoFrame, stream: Any) -> bool:
        """Encode one frame into every rendition; False once the clip is long enough."""
        if frame.time is None or (self.t0 is None and self.live and not frame.key_frame):
            return True  # a live stream joined mid-GOP: wait for the next keyframe
        if self.t0 is None:
            self._start(frame, stream)
            self.t0 = frame.time
        at = frame.time - (self.t0 or 0.0)
        if at >= self.max_seconds:
            return False
        # Let x264 choose frame types: the decoder's I/P/B marks would force them on it.
        frame.pict_type = PictureType.NONE
        pts = round(at / VIDEO_TIME_BASE)
        for output in self.outputs:
            scaled = output.add_video(frame, pts)
            if output is self.outputs[-1] and scaled is not None and (self.poster is None or at <= POSTER_AT_S):
                self.poster = scaled
        self.last_video_s = at
        return True

    def _start(self, frame: av.VideoFrame, stream: Any) -> None:
        """Open the outputs: only the first frame tells a live stream's real size and a phone video's rotation."""
        fps = stream.average_rate or stream.guessed_rate or Fraction(30)
        if not 1 <= fps <= 120:
            fps = Fraction(30)
        sample_aspect = float(stream.sample_aspect_ratio or 1) or 1.0
        self.plan = rendition_plan(frame.width, frame.height, self.renditions, sample_aspect)
        by_name = {r.name: r for r in self.renditions}
        for planned in self.plan:
            if planned.made:
                self.outputs.append(_Output(by_name[planned.rendition], self.out_dir / f"{planned.rendition}.mp4",
                                            width=planned.width, height=planned.height, fps=fps,
                                            rotation=frame.rotation, with_audio=self.has_audio))

    def _add_audio(self, sound: av.AudioFrame) -> None:
        if sound.time is None or self.t0 is None:
            return
        at = sound.time - self.t0
        if at < 0 or at >= self.max_seconds:
            return  # before the first picture, or after the last
        sound.pts = round(at * AUDIO_RATE)
        sound.time_base = Fraction(1, AUDIO_RATE)
        for output in self.outputs:
            output.add_audio(sound)
