from __future__ import annotations

from django.apps import AppConfig


class LocationsConfig(AppConfig):
    name = "apps.locations"
    label = "locations"
    verbose_name = "Unit locations"

    def ready(self) -> None:
        from apps.delivery import wake
        from apps.locations.live import LIVE_KIND, LiveBatch

        wake.live_prepare_register(LIVE_KIND, LiveBatch.from_messages)
