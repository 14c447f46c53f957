from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _sessions_ended(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    from apps.delivery import wake

    wake.wake_check(user_ids=user_ids)


class DeliveryConfig(AppConfig):
    name = "apps.delivery"
    label = "delivery"

    def ready(self) -> None:
        from apps.accounts.signals import sessions_ended

        # A revoked, disabled or signed-out user's sockets check at once, not at their next interval.
        sessions_ended.connect(_sessions_ended, dispatch_uid="delivery.sessions_ended")
