"""Media made in the test: oriented and geotagged JPEGs, a PNG bomb, an anamorphic video, and what is stored."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from django.conf import settings
from PIL import Image

from apps.accounts.models import DeviceSession
from apps.media.links import media_token_make

MEDIA = Path(settings.BASE_DIR) / "fixtures" / "data" / "media"
PORTRAIT = MEDIA / "grace_hopper.jpg"  # has a JPEG comment segment
ASTRONAUT = MEDIA / "astronaut.png"  # has an ICC profile and a text chunk
CAMERA = MEDIA / "camera.png"  # greyscale
BUNNY = MEDIA / "bigbuckbunny.mp4"


def oriented_geotagged_jpeg(width: int = 300, height: int = 200, orientation: int = 6) -> bytes:
    """Left half red, right half blue, stored sideways (EXIF orientation 6: shown turned 90 degrees clockwise),
    with a GPS position, a camera serial number and a comment."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "ACME Bodycam"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (47.0, 36.0, 22.0)
    gps[3] = "W"
    gps[4] = (122.0, 19.0, 55.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"suspect at 92XX Rainier Ave S")
    return out.getvalue()


def png_bomb(side: int = 14000) -> bytes:
    """A valid 1-bit greyscale PNG of side x side pixels (196 MP at 14000): about 50 KB on the wire."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    squeeze = zlib.compressobj(9)
    idat = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def session_token(client: Any, object_id: int, variant: str, kind: str = "photo") -> str:
    """A link token made for the session of a signed-in test client, as the API would make it."""
    session = DeviceSession.objects.get(device_id=client.device_id)
    return media_token_make(kind=kind, object_id=object_id, session_id=session.pk, variant=variant)


def make_anamorphic(path: Path, *, width: int = 176, height: int = 144,
                    sample_aspect: Fraction = Fraction(128, 117)) -> Path:
    """A QCIF picture of non-square pixels (the 128:117 of PAL-derived cameras), one second."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.sample_aspect_ratio = sample_aspect
        with av.open(f"testsrc2=size={width}x{height}:rate=25:duration=1", format="lavfi") as source:
            for frame in source.decode(video=0):
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
    with av.open(str(path)) as container:
        assert container.streams.video[0].sample_aspect_ratio == sample_aspect  # the source really is anamorphic
    return path
