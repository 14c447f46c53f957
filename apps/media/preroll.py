"""Rolling pre-roll: the last seconds of a live camera, kept as received, so a clip can start before it was asked for.

A worker runs one `Preroll` per camera pinned to an active call (`run` in a thread, until told
to stop). Packets are kept without decoding, which costs a few percent of one core per camera,
and trimmed by whole groups of pictures so what is kept always starts on a keyframe. `write`
saves them, remuxed, as a QuickTime file that `apps.media.transcode.transcode` accepts (QuickTime
carries the G.711 audio of many IP cameras, which Matroska and MPEG-TS cannot).
"""

from __future__ import annotations

import collections
import os
import threading
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
