"""The one photo pipeline: check, decode, orient, clean and resize an uploaded image.

Pure Pillow, no Django models. The original bytes are never changed (they are
evidence); every derivative is re-encoded from pixels only, so no EXIF, GPS,
comment, XMP or ICC text survives into what reaches a phone.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageCms, ImageOps

# 40 MP covers every phone and DSLR camera in use (a 12 MP photo is 4000x3000); a 14000x14000
# PNG "bomb" (196 MP) would need some 600 MB of RAM to decode and is refused from its header.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Formats Pillow may open at all: its other decoders (TIFF, PSD, EPS via Ghostscript, ...) are attack surface.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class VariantSpec:
    """One device class: the longest side it gets, and how it is encoded."""

    name: str
    max_side: int
    format: str  # JPEG or WEBP
    quality: int


# Each variant is resized from the next larger one, not from the full image. Terminals (rugged
# laptops up to 2160 px wide, older browsers) and phones get baseline JPEG: libjpeg-turbo encodes a
# 1600 px photo in under 10 ms where WebP takes 40-100 ms, and bench/photos.py must reach 10 photos/s.
# Thumbnails are small enough for WebP to be cheap, and are about a third smaller than JPEG.
VARIANTS = (
    VariantSpec("terminal", 1920, "JPEG", 80),
    VariantSpec("phone", 1080, "JPEG", 80),
    VariantSpec("thumbnail", 320, "WEBP", 70),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)


@dataclass(frozen=True)
class Variant:
    name: str
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class CheckedImage:
    """What the original is: its detected format and its size after orientation."""

    format: str
    content_type: str
    extension: str
    width: int
    height: int
    variants: list[Variant]


class ImageRejected(Exception):
    """Input that is not an image we accept; `code` is machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


_TOO_LARGE = f"Images over {MAX_PIXELS // 1_000_000} megapixels are refused."


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size that fits in a max_side square, keeping the aspect ratio; never larger than the source."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _open(fp: BinaryIO) -> Image.Image:
    """Open from the header only: format allowlist and pixel limit are checked before any decoding."""
    try:
        image = Image.open(fp, formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageRejected("image_too_large", _TOO_LARGE) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageRejected("unsupported_image", "Send a JPEG, PNG or WebP image.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("image_unreadable", "The image could not be read.") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageRejected("image_too_large", _TOO_LARGE)
    if getattr(image, "n_frames", 1) > 1:
        raise ImageRejected("unsupported_image", "Animated images are not accepted; send a still photo.")
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Pixels in sRGB without alpha: the embedded ICC profile is applied, then dropped with everything else."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                                  outputMode="RGBA" if image.mode == "RGBA" else "RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode(image: Image.Image, spec: VariantSpec) -> bytes:
    out = io.BytesIO()
    # Only pixels are written: no exif, icc_profile, comment or xmp argument, and the info dict
    # (which Pillow consults for a JPEG comment) is emptied first.
    image.info = {}
    if spec.format == "JPEG":
        image.save(out, "JPEG", quality=spec.quality)
    else:
        image.save(out, "WEBP", quality=spec.quality, method=4)
    return out.getvalue()


def image_variants_make(fp: BinaryIO, *, variants: tuple[VariantSpec, ...] = VARIANTS,
                        use_draft: bool = True) -> CheckedImage:
    """Check an uploaded image and make one cleaned derivative per device class.

    Raises ImageRejected for anything that is not a whole JPEG, PNG or WebP of at most MAX_PIXELS.
    `use_draft=False` exists for bench/photos.py, which measures what the draft saves.
    """
    with warnings.catch_warnings():
        # Over MAX_PIXELS Pillow only warns (it raises at twice that): make it an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(fp)
        detected = str(image.format)
        full_w, full_h = image.size
        if image.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8):  # turned a quarter: width and height swap
            full_w, full_h = full_h, full_w
        largest = max(v.max_side for v in variants)
        if use_draft and detected == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the largest variant:
            # a 12 MP photo decodes at 2000x1500 for a 1920 terminal, several times faster and smaller.
            image.draft("RGB", _fit(*image.size, largest))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageRejected("image_unreadable", "The image is truncated or corrupt.") from exc
    try:
        oriented = ImageOps.exif_transpose(image)
        pixels = _to_srgb(oriented if oriented is not None else image)
    except (OSError, ValueError) as exc:  # a mode or EXIF block Pillow cannot convert
        raise ImageRejected("image_unreadable", "The image could not be converted.") from exc
    made: list[Variant] = []
    current = pixels
    for spec in sorted(variants, key=lambda v: v.max_side, reverse=True):
        size = _fit(*current.size, spec.max_side)
        if size != current.size:
            # Bilinear is antialiased in Pillow (its support grows with the factor), and after the JPEG
            # draft the remaining factors are small: as sharp as Lanczos here at half the cost.
            current = current.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        made.append(Variant(name=spec.name, content=_encode(current, spec),
                            content_type=CONTENT_TYPES[spec.format], extension=EXTENSIONS[spec.format],
                            width=current.width, height=current.height))
    return CheckedImage(format=detected, content_type=CONTENT_TYPES[detected], extension=EXTENSIONS[detected],
                        width=full_w, height=full_h, variants=made)
