from __future__ import annotations

from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "apps.media"
    label = "media"

    def ready(self) -> None:
        from apps.accounts.policy import agency_staff_filter
        from apps.delivery.services import recipient_filter_register
        from apps.media.models import CallPhoto, ClipJob
        from apps.media.services import CALL_PHOTO_OBJECT, CLIP_OBJECT

        recipient_filter_register(CLIP_OBJECT, agency_staff_filter(ClipJob))
        recipient_filter_register(CALL_PHOTO_OBJECT, agency_staff_filter(CallPhoto))
