"""The one shape of a photo's device-class copy, shared by a person's photos and a call's."""

from __future__ import annotations

from django.db import models


class PhotoVariant(models.Model):
    """One re-encoded, metadata-free copy of a photo for a device class (apps.media.images.VARIANTS).

    Stored beside the original as <original stem>-<name>.<ext> (apps.media.photos.photo_store). A concrete
    variant adds `photo`, the foreign key to its original (related_name "variants"), and its unique constraint.
    """

    name = models.CharField(max_length=20)
    image = models.FileField()
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    photo_id: int

    class Meta:
        abstract = True
        ordering = ["photo", "name"]

    def __str__(self) -> str:
        return f"{self.name} of {str(self._meta.verbose_name).removesuffix(' variant')} {self.photo_id}"
