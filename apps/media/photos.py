"""Storing a photo and opening its files: the one road for a person's photos and a call's.

The image is checked and re-encoded by the one pipeline (apps.media.images); this module
keeps the original byte for byte with its SHA-256 (evidence) and writes each variant beside
it, all or nothing. A photo model here is any with `image`, `sha256`, `content_type`, `width`,
`height` and `variants` (rows with `photo`, `name`, `image`, ...): PersonPhoto and CallPhoto.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from apps.accounts.policy import is_center
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.media.errors import PayloadTooLarge
from apps.media.images import CONTENT_TYPES, EXTENSIONS, VARIANTS, CheckedImage, ImageRejected, image_variants_make


@dataclass(frozen=True)
class PhotoFile:
    """What a photo link opens: a file in storage, its type, and a validator for Range requests."""

    name: str
    content_type: str
    sha256: str


def photo_check(*, content: bytes, content_type: str = "") -> CheckedImage:
    """Refuse what is not a photo we keep, with a code, before anything is stored; else its variants."""
    if not content:
        raise ValidationFailed("The file is empty.", code="empty_file", fields={"file": ["empty"]})
    if len(content) > settings.MEDIA_PHOTO_MAX_BYTES:
        raise PayloadTooLarge(f"Photos are limited to {settings.MEDIA_PHOTO_MAX_BYTES // (1024 * 1024)} MB.",
                              fields={"file": ["too large"]})
    if content_type and content_type not in CONTENT_TYPES.values():
        raise ValidationFailed("Send a JPEG, PNG or WebP image.", code="unsupported_image",
                               fields={"file": [f"{content_type} not accepted"]})
    try:
        return image_variants_make(io.BytesIO(content))
    except ImageRejected as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={"file": [exc.message]}) from exc


def photo_store(*, photo: Any, variant_model: Any, content: bytes, content_type: str = "",
                after: Callable[[], None] | None = None) -> Any:
    """Check `content`, then save `photo` (unsaved, its owner set) with its original and variants.

    The original keeps the type Pillow detected, not the one declared, and its name holds no part
    of the uploaded file name (which can name a person). `after` runs in the same transaction
    (the audit record, an announcement). Anything refused or failing leaves no row and no file.
    """
    checked = photo_check(content=content, content_type=content_type)
    digest = hashlib.sha256(content).hexdigest()
    photo.sha256, photo.content_type = digest, checked.content_type
    photo.width, photo.height = checked.width, checked.height
    try:
        with transaction.atomic():
            photo.image.save(f"{digest[:16]}{checked.extension}", ContentFile(content), save=False)
            photo.save()
            for made in checked.variants:
                variant = variant_model(photo=photo, name=made.name, content_type=made.content_type,
                                        width=made.width, height=made.height, size_bytes=len(made.content),
                                        sha256=hashlib.sha256(made.content).hexdigest())
                variant.image.name = default_storage.save(_variant_name(photo, made.name), ContentFile(made.content))
                variant.save()
            if after is not None:
                after()
    except BaseException:
        photo_files_delete(photo=photo)  # nothing half-written stays in storage
        raise
    return photo


def _variant_name(photo: Any, variant: str) -> str:
    """Beside the original, named after it: found from the original's name alone, even with no rows left."""
    original = PurePosixPath(photo.image.name)
    extension = next(v for v in VARIANTS if v.name == variant).format
    return str(original.with_name(f"{original.stem}-{variant}{EXTENSIONS[extension]}"))


def photo_files_delete(*, photo: Any) -> None:
    """Delete a photo's original and variant files, e.g. after the transaction that stored them rolled back."""
    if not photo.image.name:
        return
    for spec in VARIANTS:
        default_storage.delete(_variant_name(photo, spec.name))
    photo.image.delete(save=False)


def photo_file_read(*, user: Any, photo: Any | None, variant: str, ip: str | None,
                    detail: dict[str, Any]) -> PhotoFile:
    """A photo the selector found for this reader (None: not found), its file picked and the read audited.

    Originals (evidence as received, with their EXIF and GPS) are for the center, not the field.
    """
    if photo is None:
        raise NotFound("Photo not found.", code="photo_not_found")
    found = photo_file_pick(photo=photo, variant=variant, may_open_original=is_center(user))
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=photo, ip=ip, detail={**detail, "variant": variant})
    return found


def photo_file_pick(*, photo: Any, variant: str, may_open_original: bool) -> PhotoFile:
    """The file a link names: a variant, or the original (evidence, with its EXIF and GPS) for those allowed."""
    if variant == "original":
        if not may_open_original:
            raise PermissionDenied("Originals are for analysts and supervisors; open a variant.",
                                   code="original_not_allowed")
        return PhotoFile(name=photo.image.name, content_type=photo.content_type, sha256=photo.sha256)
    row = photo.variants.filter(name=variant).first()
    if row is None:
        raise NotFound("This photo has no such variant.", code="photo_not_found")
    return PhotoFile(name=row.image.name, content_type=row.content_type, sha256=row.sha256)
