from __future__ import annotations

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "apps.cases"
    label = "cases"

    def ready(self) -> None:
        from apps.cases.services import CASE_OBJECT, case_recipients_allowed
        from apps.delivery.services import recipient_filter_register

        recipient_filter_register(CASE_OBJECT, case_recipients_allowed)
