from __future__ import annotations

from django.apps import AppConfig


class BolosConfig(AppConfig):
    name = "apps.bolos"
    label = "bolos"
    verbose_name = "BOLOs"

    def ready(self) -> None:
        from apps.bolos.services import BOLO_OBJECT, bolo_recipients_allowed, bolos_expire_due
        from apps.delivery.services import dispatcher_job_register, recipient_filter_register

        recipient_filter_register(BOLO_OBJECT, bolo_recipients_allowed)
        # Bulletins past their expiry are announced as expired from the dispatcher's loop, once each.
        dispatcher_job_register(lambda: bolos_expire_due())
