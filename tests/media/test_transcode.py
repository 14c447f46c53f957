"""The clip engine: phone-ready MP4 from files and live cameras, and refusal of what it cannot make."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from apps.media.transcode import (
    RENDITION_360P,
    RENDITION_720P,
    ClipOutput,
    TranscodeError,
    output_size,
    probe,
    transcode,
)
from tests.media import live_sources
from tests.media.helpers import make_anamorphic

MEDIA = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "media"
BUNNY = MEDIA / "bigbuckbunny.mp4"  # 1280x720 H.264 Main, 5.1 AAC, 5.3 s, moov after mdat
BOTH = [RENDITION_360P, RENDITION_720P]


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4's top-level boxes, in file order."""
    boxes = []
    with path.open("rb") as f:
        while header := f.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            elif size == 0:
                boxes.append(kind.decode("latin-1"))
                break
            boxes.append(kind.decode("latin-1"))
            f.seek(size - 8, 1)
    return boxes


@dataclass(frozen=True)
class Stream:
    kind: str
    codec: str
    profile: str | None
    level: int | None
    width: int
    height: int
    channels: int


def streams_of(path: Path) -> list[Stream]:
    with av.open(str(path)) as container:
        found = []
        for s in container.streams:
            if isinstance(s, av.VideoStream):
                v = s.codec_context
                found.append(Stream("video", v.name, v.profile, v.level, v.width, v.height, 0))
            elif isinstance(s, av.AudioStream):
                a = s.codec_context
                found.append(Stream("audio", a.name, a.profile, None, 0, 0, a.channels))
        return found


def make_video(path: Path, *, seconds: float, width: int = 320, height: int = 240, audio: bool = True,
               metadata: dict[str, str] | None = None, rotation: int = 0) -> Path:
    """A small H.264 (+ AAC stereo) file of a moving test pattern and a tone."""
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=48000, layout="stereo") if audio else None
        with av.open(f"testsrc2=size={width}x{height}:rate=25:duration={seconds}", format="lavfi") as source:
            for frame in source.decode(video=0):
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            with av.open(f"sine=sample_rate=48000:duration={seconds}", format="lavfi") as source:
                for tone in source.decode(audio=0):
                    out.mux(sound.encode(tone))
            out.mux(sound.encode(None))
    return path


@dataclass
class BunnyClip:
    result: ClipOutput
    progress: list[tuple[float, str]]
    seconds: float


@pytest.fixture(scope="module")
def bunny(tmp_path_factory: pytest.TempPathFactory) -> BunnyClip:
    progress: list[tuple[float, str]] = []
    started = time.monotonic()
    result = transcode(BUNNY, tmp_path_factory.mktemp("bunny") / "clip", BOTH, max_seconds=60,
                       progress=lambda percent, stage: progress.append((percent, stage)))
    return BunnyClip(result, progress, time.monotonic() - started)


def test_it_makes_high_profile_h264_at_level_4_1_or_below(bunny: BunnyClip) -> None:
    for output in bunny.result.outputs:
        video = streams_of(output.path)[0]
        assert (video.codec, video.profile) == ("h264", "High")
        assert video.level is not None and 0 < video.level <= 41


def test_it_makes_360p_and_720p_renditions_of_a_720p_source(bunny: BunnyClip) -> None:
    sizes = {o.rendition: (o.width, o.height) for o in bunny.result.outputs}
    assert sizes == {"360p": (640, 360), "720p": (1280, 720)}
    for output in bunny.result.outputs:
        video = streams_of(output.path)[0]
        assert (video.width, video.height) == (output.width, output.height)


def test_it_downmixes_5_1_audio_to_stereo_aac(bunny: BunnyClip) -> None:
    assert probe(BUNNY).audio_channels == 6
    for output in bunny.result.outputs:
        audio = [s for s in streams_of(output.path) if s.kind == "audio"]
        assert [(a.codec, a.channels) for a in audio] == [("aac", 2)]
        assert output.has_audio


def test_it_puts_the_moov_before_the_mdat_so_phones_play_while_downloading(bunny: BunnyClip) -> None:
    source = top_level_boxes(BUNNY)
    assert source.index("mdat") < source.index("moov")  # the fixture has it the slow way round
    for output in bunny.result.outputs:
        boxes = top_level_boxes(output.path)
        assert boxes[0] == "ftyp"
        assert boxes.index("moov") < boxes.index("mdat")


def test_it_reports_duration_sizes_and_a_poster(bunny: BunnyClip) -> None:
    assert bunny.result.duration_s == pytest.approx(5.28, abs=0.1)
    for output in bunny.result.outputs:
        assert output.size_bytes == output.path.stat().st_size > 0
        with av.open(str(output.path)) as container:
            assert container.duration is not None
            assert container.duration / av.time_base == pytest.approx(bunny.result.duration_s, abs=0.1)
    with Image.open(bunny.result.poster_path) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (1280, 720)
        assert not poster.getexif()
        assert "comment" not in poster.info


def test_it_stays_near_the_target_bitrates(bunny: BunnyClip) -> None:
    for output, rendition in zip(bunny.result.outputs, BOTH, strict=True):
        kbit_s = output.size_bytes * 8 / bunny.result.duration_s / 1000
        target = (rendition.video_bitrate + rendition.audio_bitrate) / 1000
        assert 0.5 * target < kbit_s < 1.5 * target


def test_it_reports_progress_in_stages_up_to_100(bunny: BunnyClip) -> None:
    percents = [p for p, _ in bunny.progress]
    assert percents == sorted(percents)
    assert bunny.progress[-1] == (100.0, "done")
    stages = list(dict.fromkeys(stage for _, stage in bunny.progress))
    assert stages == ["opening", "transcoding", "finishing", "poster", "done"]
    assert len(bunny.progress) <= 110  # once per percent, not once per frame


def test_it_carries_no_metadata_from_the_source(tmp_path: Path) -> None:
    tags = {"title": "Suspect vehicle at 5th and Pine", "comment": "Witness: J. Doe",
            "location": "+47.6101-122.3421/", "artist": "Officer 4417"}
    source = make_video(tmp_path / "tagged.mp4", seconds=1, metadata=tags)
    with av.open(str(source)) as container:
        assert container.metadata["title"] == tags["title"]  # the test source really carries them
    assert tags["comment"].encode() in source.read_bytes()
    result = transcode(source, tmp_path / "clip", [RENDITION_360P], max_seconds=10)
    path = result.outputs[0].path
    with av.open(str(path)) as container:
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        for stream in container.streams:
            assert set(stream.metadata) <= {"language", "handler_name", "vendor_id"}
    data = path.read_bytes()
    for value in (*tags.values(), "Lavf"):
        assert value.encode() not in data


def test_it_never_upscales_a_small_source_nor_makes_its_size_twice(tmp_path: Path) -> None:
    source = make_video(tmp_path / "small.mp4", seconds=1, width=320, height=180)
    result = transcode(source, tmp_path / "clip", BOTH, max_seconds=10)
    assert [(o.rendition, o.width, o.height) for o in result.outputs] == [("360p", 320, 180)]
    assert [streams_of(o.path)[0].height for o in result.outputs] == [180]
    assert not (tmp_path / "clip" / "720p.mp4").exists()
    made, skipped = result.plan
    assert (made.rendition, made.made) == ("360p", True) and "never upscaled" in made.reason
    assert (skipped.rendition, skipped.made, skipped.width, skipped.height) == ("720p", False, 320, 180)
    assert skipped.reason == "Not made: from the 320x180 source it would be 320x180, the same as 360p."


def test_non_square_pixels_are_made_square_by_reducing_the_height_never_widening(tmp_path: Path) -> None:
    source = make_anamorphic(tmp_path / "qcif.mp4")
    result = transcode(source, tmp_path / "clip", BOTH, max_seconds=10)
    (only,) = result.outputs
    # 176 x 144 at 128:117 shows as 176 x 131.6: the height is reduced, the width stays, nothing grows.
    assert (only.rendition, only.width, only.height) == ("360p", 176, 132)
    stream = streams_of(only.path)[0]
    assert (stream.width, stream.height) == (176, 132)
    with av.open(str(only.path)) as container:
        assert container.streams.video[0].sample_aspect_ratio in (None, Fraction(1, 1))  # square now
    assert [(p.rendition, p.made) for p in result.plan] == [("360p", True), ("720p", False)]
    assert "128/117 pixels made square by reducing its height" in result.plan[0].reason


def test_tall_pixels_are_made_square_by_reducing_the_width(tmp_path: Path) -> None:
    source = make_anamorphic(tmp_path / "tall.mp4", width=320, height=240, sample_aspect=Fraction(3, 4))
    result = transcode(source, tmp_path / "clip", [RENDITION_360P], max_seconds=10)
    assert (result.outputs[0].width, result.outputs[0].height) == (240, 240)


@pytest.mark.parametrize(("width", "height", "sample_aspect"), [
    (176, 144, 128 / 117), (720, 576, 16 / 11), (720, 480, 32 / 27), (352, 288, 12 / 11), (640, 480, 1.0),
    (320, 240, 3 / 4), (1920, 1080, 1.0), (175, 143, 1.0), (1440, 1080, 4 / 3)])
def test_no_rendition_exceeds_the_source_in_either_dimension(width: int, height: int, sample_aspect: float) -> None:
    for rendition in BOTH:
        out_w, out_h = output_size(width, height, rendition.height, sample_aspect)
        assert out_w <= width and out_h <= height, (rendition.name, out_w, out_h)
        assert out_w % 2 == 0 and out_h % 2 == 0
        assert abs(out_w / out_h - width * sample_aspect / height) < 0.03  # the picture's shape is kept


def test_a_portrait_video_gets_its_short_side_scaled(tmp_path: Path) -> None:
    source = make_video(tmp_path / "portrait.mp4", seconds=0.5, width=400, height=720, audio=False)
    result = transcode(source, tmp_path / "clip", [RENDITION_360P], max_seconds=10)
    assert (result.outputs[0].width, result.outputs[0].height) == (360, 648)


def test_a_phone_video_keeps_its_rotation(tmp_path: Path) -> None:
    source = make_video(tmp_path / "phone.mp4", seconds=0.5, width=320, height=240, audio=False, rotation=90)
    result = transcode(source, tmp_path / "clip", [RENDITION_360P], max_seconds=10)
    with av.open(str(result.outputs[0].path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (320, 240, 90)
    with Image.open(result.poster_path) as poster:
        assert poster.size == (240, 320)  # upright, as the phone showed it


def test_it_keeps_dimensions_even() -> None:
    assert output_size(1921, 1081, 720) == (1280, 720)
    assert output_size(321, 241, 360) == (320, 240)
    assert output_size(720, 480, 360, sample_aspect=32 / 27) == (640, 360)  # anamorphic DVD-style pixels


def test_a_video_only_source_gives_a_video_only_clip(tmp_path: Path) -> None:
    source = make_video(tmp_path / "silent.mp4", seconds=1, audio=False)
    assert not probe(source).has_audio
    result = transcode(source, tmp_path / "clip", [RENDITION_360P], max_seconds=10)
    assert not result.outputs[0].has_audio
    assert [s.kind for s in streams_of(result.outputs[0].path)] == ["video"]


def _zero_bytes(tmp: Path, bunny: BunnyClip) -> Path:
    path = tmp / "empty.mp4"
    path.write_bytes(b"")
    return path


def _cut_bunny(tmp: Path, bunny: BunnyClip) -> Path:
    path = tmp / "cut.mp4"
    data = BUNNY.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the moov is at the end: gone
    return path


def _cut_faststart(tmp: Path, bunny: BunnyClip) -> Path:
    path = tmp / "cut-faststart.mp4"
    data = bunny.result.outputs[1].path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])  # the index survives, the last seconds do not
    return path


def _jpeg_renamed(tmp: Path, bunny: BunnyClip) -> Path:
    path = tmp / "photo.mp4"
    path.write_bytes((MEDIA / "grace_hopper.jpg").read_bytes())
    return path


def _two_hours(tmp: Path, bunny: BunnyClip) -> Path:
    """A real two-hour video, made in milliseconds: three frames, an hour apart."""
    from fractions import Fraction

    path = tmp / "two-hours.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
        for second in (0, 3600, 7200):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts, frame.time_base = second * 1000, Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


@pytest.mark.parametrize(("make_source", "code"), [
    (_zero_bytes, "unreadable_source"),
    (_cut_bunny, "unreadable_source"),
    (_cut_faststart, "truncated_source"),
    (_jpeg_renamed, "unreadable_source"),
    (_two_hours, "too_long"),
], ids=["zero-byte", "truncated", "truncated-faststart", "jpeg-renamed-mp4", "two-hours"])
def test_bad_files_fail_fast_with_a_code_and_leave_nothing(
        tmp_path: Path, bunny: BunnyClip, make_source: Callable[[Path, BunnyClip], Path], code: str) -> None:
    source = make_source(tmp_path, bunny)
    out_dir = tmp_path / "clip"
    started = time.monotonic()
    with pytest.raises(TranscodeError) as error:
        transcode(source, out_dir, BOTH, max_seconds=60)
    assert error.value.code == code
    assert error.value.message
    assert time.monotonic() - started < 2.0
    assert not out_dir.exists()
    if code != "too_long":  # probe knows no limit; everything else it finds from the header alone
        with pytest.raises(TranscodeError) as error:
            probe(source)
        assert error.value.code == code


def test_it_leaves_files_it_did_not_make(tmp_path: Path) -> None:
    out_dir = tmp_path / "job"
    out_dir.mkdir()
    (out_dir / "request.json").write_text("{}")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(TranscodeError):
        transcode(empty, out_dir, BOTH, max_seconds=60)
    assert [p.name for p in out_dir.iterdir()] == ["request.json"]


def test_probe_reads_the_header() -> None:
    info = probe(BUNNY)
    assert (info.width, info.height, info.video_codec) == (1280, 720, "h264")
    assert info.duration_s == pytest.approx(5.28, abs=0.05)
    assert (info.has_audio, info.audio_channels, info.is_live) == (True, 6, False)


LIVE_SOURCES: dict[str, Callable[[], AbstractContextManager[str]]] = {
    "udp": live_sources.udp_mpegts_source,
    "http": live_sources.http_mpegts_source,
    "rtsp": live_sources.rtsp_source,
}


@pytest.fixture(scope="module")
def rtsp_available() -> bool:
    return live_sources.rtsp_available()


@pytest.mark.parametrize("kind", ["udp", "http", "rtsp"])
def test_it_records_the_next_seconds_of_a_live_camera(tmp_path: Path, kind: str, rtsp_available: bool) -> None:
    if kind == "rtsp" and not rtsp_available:
        pytest.skip("GStreamer RTSP server not installed (python3-gi gir1.2-gst-rtsp-server-1.0 ...)")
    with LIVE_SOURCES[kind]() as url:
        assert probe(url).is_live
        started = time.monotonic()
        result = transcode(url, tmp_path / "clip", BOTH, max_seconds=2)
        elapsed = time.monotonic() - started
    assert result.duration_s == pytest.approx(2.0, abs=0.15)
    assert elapsed < 10  # it stops at max_seconds, not when the camera does
    for output in result.outputs:
        assert (output.width, output.height) == (320, 240)
        assert output.has_audio
        streams = streams_of(output.path)
        assert [(s.kind, s.codec) for s in streams] == [("video", "h264"), ("audio", "aac")]
        assert streams[1].channels == 2  # the RTSP camera's G.711 is mono: stereo for every phone alike
        boxes = top_level_boxes(output.path)
        assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize("silent_source", [live_sources.silent_udp_source, live_sources.silent_http_source],
                         ids=["udp", "http"])
def test_a_camera_that_never_answers_times_out(
        tmp_path: Path, silent_source: Callable[[], AbstractContextManager[str]]) -> None:
    with silent_source() as url:
        started = time.monotonic()
        with pytest.raises(TranscodeError) as error:
            transcode(url, tmp_path / "clip", BOTH, max_seconds=10, open_timeout_s=1.0)
        assert time.monotonic() - started < 3
    assert error.value.code == "source_timeout"
    assert not (tmp_path / "clip").exists()


def test_a_camera_that_refuses_the_connection_fails_at_once(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{live_sources.free_port()}/"
    with pytest.raises(TranscodeError) as error:
        transcode(url, tmp_path / "clip", BOTH, max_seconds=10, open_timeout_s=1.0)
    assert error.value.code == "source_unavailable"


@pytest.fixture
def udp_camera() -> Iterator[str]:
    with live_sources.udp_mpegts_source() as url:
        yield url


def test_cancel_stops_the_clip_and_deletes_what_was_written(tmp_path: Path, udp_camera: str) -> None:
    out_dir = tmp_path / "clip"
    seen: list[float] = []
    written: list[str] = []

    def should_cancel() -> bool:
        if out_dir.exists():
            written.extend(p.name for p in out_dir.iterdir())
        return bool(seen) and seen[-1] >= 5  # a second into the 20 s clip

    started = time.monotonic()
    with pytest.raises(TranscodeError) as error:
        transcode(udp_camera, out_dir, BOTH, max_seconds=20, should_cancel=should_cancel,
                  progress=lambda percent, stage: seen.append(percent))
    assert error.value.code == "cancelled"
    assert time.monotonic() - started < 10  # long before the 20 s clip would have ended
    assert "360p.mp4" in written  # the small camera's only size: its "720p" would be the same, so not made
    assert not out_dir.exists()
