"""Rolling pre-roll: the last seconds of a live camera, kept as received, so a clip can start before it was asked for.

A worker runs one `Preroll` per camera pinned to an active call (`run` in a thread, until told
to stop). Packets are kept without decoding, which costs a few percent of one core per camera,
and trimmed by whole groups of pictures so what is kept always starts on a keyframe. `write`
saves them, remuxed, as a QuickTime file that `apps.media.transcode.transcode` accepts (QuickTime
carries the G.711 audio of many IP cameras, which Matroska and MPEG-TS cannot).

A clip job of such a camera (`apps.media.services.clip_job_run`) `capture`s the next seconds the
same way, remuxed, and `concat`s the pre-roll file and that capture into the one file it transcodes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from apps.media.transcode import TranscodeError, open_source, usable_audio

DEFAULT_SECONDS = 15.0
# 15 s of a 8 Mbit/s 1080p camera is 15 MB; four times that bounds a camera that lies about its rate.
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Held:
    """One packet's bytes and timing, copied out of the demuxer so it can be written any number of times."""

    data: bytes
    pts: int | None
    dts: int | None
    time_base: Fraction
    stream: int  # 0 video, 1 audio
    keyframe: bool
    at: float  # seconds, source clock


class Preroll:
    """Keeps the last `seconds` (at least; whole GOPs) of a live source's video and audio packets."""

    def __init__(self, source: str, *, seconds: float = DEFAULT_SECONDS, open_timeout_s: float = 5.0,
                 max_bytes: int = MAX_BYTES) -> None:
        self.source = source
        self.seconds = seconds
        self.open_timeout_s = open_timeout_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._held: collections.deque[_Held] = collections.deque()
        self._keyframes: collections.deque[_Held] = collections.deque()
        self._bytes = 0
        self._templates: list[Any] = []

    @property
    def seconds_held(self) -> float:
        with self._lock:
            return self._held[-1].at - self._held[0].at if self._held else 0.0

    def run(self, *, should_stop: Callable[[], bool]) -> None:
        """Read the source until `should_stop()` is true; raises TranscodeError if it cannot be opened or goes quiet.

        `should_stop` is called for every packet, so it must be cheap (an Event's is_set).
        """
        container = open_source(self.source, self.open_timeout_s)
        try:
            if not container.streams.video:
                raise TranscodeError("no_video", "The source has no video.")
            streams: list[Any] = [container.streams.video[0]]
            audio = usable_audio(container)
            if audio is not None:
                streams.append(audio)
            position = {stream.index: i for i, stream in enumerate(streams)}
            with self._lock:
                self._templates = streams
            for packet in container.demux(streams):
                if should_stop():
                    return
                if packet.size == 0 or packet.time_base is None:
                    continue
                timestamp = packet.pts if packet.pts is not None else packet.dts
                if timestamp is None:
                    continue
                self._add(_Held(
                    data=bytes(packet), pts=packet.pts, dts=packet.dts, time_base=packet.time_base,
                    stream=position[packet.stream_index], keyframe=packet.is_keyframe,
                    at=float(timestamp * packet.time_base)))
        except av.error.ExitError:
            raise TranscodeError("source_timeout", f"The source sent nothing for {self.open_timeout_s:g} s.") from None
        finally:
            with self._lock:
                self._templates = []
            container.close()

    def _add(self, held: _Held) -> None:
        with self._lock:
            if self._held and held.at < self._held[-1].at - self.seconds:
                self._clear()  # the source's clock jumped back (a restart, or the 26-hour MPEG-TS wrap)
            starts_gop = held.stream == 0 and held.keyframe
            if not self._held and not starts_gop:
                return  # what is kept starts on a keyframe, or a player shows grey until the next one
            self._held.append(held)
            self._bytes += len(held.data)
            if starts_gop:
                self._keyframes.append(held)
            # Drop the oldest GOP while the next one still reaches back `seconds`, or while over budget.
            while len(self._keyframes) >= 2 and (
                    self._keyframes[1].at <= held.at - self.seconds or self._bytes > self.max_bytes):
                self._keyframes.popleft()
                while self._held[0] is not self._keyframes[0]:
                    self._bytes -= len(self._held.popleft().data)
            if self._bytes > self.max_bytes:
                self._clear()  # one GOP over budget: a stream we cannot keep

    def _clear(self) -> None:
        self._held.clear()
        self._keyframes.clear()
        self._bytes = 0

    def write(self, path: Path) -> float:
        """Save what is held (while `run` is running) as a QuickTime .mov file; returns the seconds written."""
        with self._lock:
            held = list(self._held)
            templates = list(self._templates)
            if not held or not templates:
                raise TranscodeError("no_preroll", "Nothing of this source is held.")
            partial = path.with_name(path.name + ".partial")
            out = av.open(str(partial), "w", format="mov")
            try:
                # Created under the lock: `run` closes the source, and with it these templates, when it ends.
                streams = [out.add_stream_from_template(template) for template in templates]
            except BaseException:
                out.close()
                partial.unlink(missing_ok=True)
                raise
        try:
            # The file starts at 0 (its duration is then what it holds), from the first keyframe's
            # decode time, which B-frames put before its presentation time.
            first = held[0]
            start = float(first.dts * first.time_base) if first.dts is not None else first.at
            for item in held:
                shift = round(start / item.time_base)
                pts = item.pts - shift if item.pts is not None else None
                dts = item.dts - shift if item.dts is not None else None
                if (pts is not None and pts < 0) or (dts is not None and dts < 0):
                    continue  # audio captured a moment before the first picture
                packet = av.Packet(item.data)
                packet.pts, packet.dts = pts, dts
                packet.time_base = item.time_base
                packet.is_keyframe = item.keyframe
                packet.stream = streams[item.stream]
                out.mux(packet)
            out.close()
            os.replace(partial, path)
        except BaseException:
            out.close()
            partial.unlink(missing_ok=True)
            raise
        return held[-1].at - held[0].at


def preroll_path(directory: Path, camera_id: int) -> Path:
    """Where the worker keeps a camera's pre-roll file (replaced whole, atomically, about every second)."""
    return directory / f"camera-{camera_id}.mov"


def preroll_camera_id(path: Path) -> int | None:
    """The camera a file in the pre-roll directory belongs to (its .partial leftovers too), or None."""
    stem = path.name.split(".", 1)[0]
    digits = stem.removeprefix("camera-")
    return int(digits) if stem.startswith("camera-") and digits.isdigit() else None


def _streams(container: Any) -> list[Any]:
    if not container.streams.video:
        raise TranscodeError("no_video", "The source has no video.")
    audio = usable_audio(container)
    return [container.streams.video[0]] + ([audio] if audio is not None else [])


def capture(source: str, path: Path, *, seconds: float, open_timeout_s: float,
            should_cancel: Callable[[], bool] | None = None) -> float:
    """Remux the next `seconds` of a live source, from its first keyframe, to a QuickTime file; returns its seconds.

    Nothing is decoded. Raises TranscodeError (source_timeout, source_unavailable, no_video,
    cancelled) and then leaves no file.
    """
    container = open_source(source, open_timeout_s)
    partial = path.with_name(path.name + ".partial")
    out: Any = None
    start: float | None = None
    last = 0.0
    try:
        streams = _streams(container)
        position = {stream.index: i for i, stream in enumerate(streams)}
        out = av.open(str(partial), "w", format="mov")
        outs = [out.add_stream_from_template(stream) for stream in streams]
        started = time.monotonic()
        next_poll = started
        try:
            for packet in container.demux(streams):
                now = time.monotonic()
                if should_cancel is not None and now >= next_poll:
                    next_poll = now + 0.5
                    if should_cancel():
                        raise TranscodeError("cancelled", "The clip was cancelled.")
                if now - started > seconds + open_timeout_s + 5:
                    break  # a source whose clock stalled: stop by the wall clock
                if packet.size == 0 or packet.time_base is None:
                    continue
                timestamp = packet.pts if packet.pts is not None else packet.dts
                if timestamp is None:
                    continue
                index = position[packet.stream_index]
                at = float(timestamp * packet.time_base)
                if start is None:
                    if index != 0 or not packet.is_keyframe:
                        continue  # joined mid-GOP: start on the next keyframe
                    start = float(packet.dts * packet.time_base) if packet.dts is not None else at
                if index == 0 and at - start >= seconds:
                    break
                shift = round(start / packet.time_base)
                pts = packet.pts - shift if packet.pts is not None else None
                dts = packet.dts - shift if packet.dts is not None else None
                if (pts is not None and pts < 0) or (dts is not None and dts < 0):
                    continue
                packet.pts, packet.dts = pts, dts
                packet.stream = outs[index]
                out.mux(packet)
                if index == 0:
                    last = max(last, at - start)
        except av.error.ExitError:
            if start is None:
                raise TranscodeError("source_timeout", f"The source sent nothing for {open_timeout_s:g} s.") from None
        except av.error.FFmpegError:
            if start is None:
                raise TranscodeError("source_unavailable", "The live source could not be read.") from None
        if start is None:
            raise TranscodeError("source_timeout", "The source sent no picture.")
        out.close()
        os.replace(partial, path)
    except BaseException:
        if out is not None:
            with contextlib.suppress(Exception):
                out.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        container.close()
    return last


def _same_parameters(first: list[Any], second: list[Any]) -> bool:
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        ca, cb = a.codec_context, b.codec_context
        if (a.type, ca.name, bytes(ca.extradata or b"")) != (b.type, cb.name, bytes(cb.extradata or b"")):
            return False
        if a.type == "video" and (ca.width, ca.height) != (cb.width, cb.height):
            return False
        if a.type == "audio" and (ca.sample_rate, ca.channels) != (cb.sample_rate, cb.channels):
            return False
    return True


def concat(first: Path, second: Path, path: Path) -> float:
    """Remux two QuickTime files of one camera into one, `second` right after `first`; returns where it starts (s).

    Raises TranscodeError("preroll_mismatch") if their codec parameters differ (the camera was
    reconfigured in between): a decoder cannot cross that without being told.
    """
    with av.open(str(first)) as head, av.open(str(second)) as tail:
        head_streams, tail_streams = _streams(head), _streams(tail)
        if not _same_parameters(head_streams, tail_streams):
            raise TranscodeError("preroll_mismatch", "The pre-roll and the live capture are coded differently.")
        tail_video = next((p for p in tail.demux(tail_streams[0]) if p.size and p.pts is not None), None)
        if tail_video is None:
            raise TranscodeError("no_video", "The live capture holds no picture.")
        tail_start_pts = float(tail_video.pts * tail_video.time_base)
        tail_start_dts = float((tail_video.dts if tail_video.dts is not None else tail_video.pts)
                               * tail_video.time_base)
        tail.seek(0)
        partial = path.with_name(path.name + ".partial")
        out = av.open(str(partial), "w", format="mov")
        try:
            outs = [out.add_stream_from_template(stream) for stream in head_streams]
            rate = head_streams[0].average_rate or head_streams[0].guessed_rate or Fraction(25)
            frame_s = float(1 / rate)
            end_pts = end_dts = 0.0
            last_dts: list[float | None] = [None] * len(outs)  # seconds: mux rebases packets
            head_index = {stream.index: i for i, stream in enumerate(head_streams)}
            for packet in head.demux(head_streams):
                if not packet.size or packet.time_base is None:
                    continue
                index = head_index[packet.stream_index]
                if index == 0:
                    if packet.pts is not None:
                        end_pts = max(end_pts, float(packet.pts * packet.time_base) + frame_s)
                    if packet.dts is not None:
                        end_dts = max(end_dts, float(packet.dts * packet.time_base) + frame_s)
                if packet.dts is not None:
                    last_dts[index] = float(packet.dts * packet.time_base)
                packet.stream = outs[index]
                out.mux(packet)
            # The tail's first picture is shown, and decoded, just after the head's last one.
            offset = max(end_pts - tail_start_pts, end_dts - tail_start_dts)
            tail_index = {stream.index: i for i, stream in enumerate(tail_streams)}
            for packet in tail.demux(tail_streams):
                if not packet.size or packet.time_base is None:
                    continue
                index = tail_index[packet.stream_index]
                shift = round(offset / packet.time_base)
                if packet.pts is not None:
                    packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
                    at = float(packet.dts * packet.time_base)
                    previous = last_dts[index]
                    if index != 0 and previous is not None and at <= previous:
                        continue  # sound the pre-roll already holds (it ran a moment past its last picture)
                    last_dts[index] = at
                packet.stream = outs[index]
                out.mux(packet)
            out.close()
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(Exception):
                out.close()
            partial.unlink(missing_ok=True)
            raise
    return offset
