"""Rolling pre-roll: the last seconds of a live camera, kept without transcoding, ready to become a clip."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest

from apps.media.preroll import Preroll
from apps.media.transcode import RENDITION_360P, TranscodeError, probe, transcode
from tests.media import live_sources

# The live sources send a keyframe every 12 frames at 25 fps: a GOP is 0.48 s.
GOP_S = live_sources.GOP / live_sources.FPS


@contextmanager
def running(preroll: Preroll) -> Iterator[list[BaseException]]:
    """Run the pre-roll in a thread, as the worker does; yields the errors it ended with."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            preroll.run(should_stop=stop.is_set)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def wait_until_held(preroll: Preroll, seconds: float, *, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while preroll.seconds_held < seconds:
        assert time.monotonic() < deadline, "the pre-roll never filled"
        time.sleep(0.1)


def test_it_keeps_only_the_last_seconds_starting_on_a_keyframe(tmp_path: Path) -> None:
    with live_sources.udp_mpegts_source() as url:
        preroll = Preroll(url, seconds=1.5, open_timeout_s=3)
        with running(preroll) as errors:
            wait_until_held(preroll, 1.5)
            time.sleep(1.5)  # as long again: the oldest second must have been let go
            held = preroll.seconds_held
            written = preroll.write(tmp_path / "preroll.mov")
        assert not errors
    assert 1.5 <= held <= 1.5 + GOP_S + 0.2
    assert written == pytest.approx(held, abs=0.5)
    info = probe(tmp_path / "preroll.mov")
    assert info.duration_s == pytest.approx(written, abs=0.2)
    with av.open(str(tmp_path / "preroll.mov")) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        assert first.is_keyframe
        assert container.streams.video[0].codec_context.name == "h264"  # kept as sent: no transcoding


def test_what_it_writes_becomes_a_clip(tmp_path: Path) -> None:
    with live_sources.http_mpegts_source() as url:
        preroll = Preroll(url, seconds=1.0, open_timeout_s=3)
        with running(preroll):
            wait_until_held(preroll, 1.0)
            preroll.write(tmp_path / "preroll.mov")
    result = transcode(tmp_path / "preroll.mov", tmp_path / "clip", [RENDITION_360P], max_seconds=60)
    assert result.duration_s >= 1.0
    assert result.outputs[0].has_audio


def test_it_keeps_g711_audio_of_an_rtsp_camera(tmp_path: Path) -> None:
    if not live_sources.rtsp_available():
        pytest.skip("GStreamer RTSP server not installed (python3-gi gir1.2-gst-rtsp-server-1.0 ...)")
    with live_sources.rtsp_source() as url:
        preroll = Preroll(url, seconds=1.0, open_timeout_s=3)
        with running(preroll):
            wait_until_held(preroll, 1.0)
            preroll.write(tmp_path / "preroll.mov")
    info = probe(tmp_path / "preroll.mov")
    assert (info.video_codec, info.has_audio, info.audio_channels) == ("h264", True, 1)


def test_it_stays_within_its_memory_budget(tmp_path: Path) -> None:
    with live_sources.udp_mpegts_source() as url:
        # About three GOPs of the test stream: far less than 15 seconds of it.
        preroll = Preroll(url, seconds=15, open_timeout_s=3, max_bytes=100_000)
        with running(preroll):
            time.sleep(4)
            held = preroll.seconds_held
            preroll.write(tmp_path / "preroll.mov")
    assert 0 < held < 1.5  # uncapped it would hold about 3 s by now
    assert (tmp_path / "preroll.mov").stat().st_size < 150_000


def test_it_refuses_to_write_what_it_never_received(tmp_path: Path) -> None:
    with pytest.raises(TranscodeError) as error:
        Preroll("udp://127.0.0.1:9").write(tmp_path / "preroll.mov")
    assert error.value.code == "no_preroll"
    assert list(tmp_path.iterdir()) == []


def test_a_camera_that_never_answers_times_out() -> None:
    with live_sources.silent_udp_source() as url:
        started = time.monotonic()
        with pytest.raises(TranscodeError) as error:
            Preroll(url, open_timeout_s=1.0).run(should_stop=lambda: False)
    assert error.value.code == "source_timeout"
    assert time.monotonic() - started < 3
