from __future__ import annotations

from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "apps.media"
    label = "media"

    def ready(self) -> None:
        from apps.delivery.services import recipient_filter_register
        from apps.media.services import (
            CALL_PHOTO_OBJECT,
            CLIP_OBJECT,
            call_photo_recipients_allowed,
            clip_recipients_allowed,
        )

        recipient_filter_register(CLIP_OBJECT, clip_recipients_allowed)
        recipient_filter_register(CALL_PHOTO_OBJECT, call_photo_recipients_allowed)
