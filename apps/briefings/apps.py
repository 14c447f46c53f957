from __future__ import annotations

from django.apps import AppConfig


class BriefingsConfig(AppConfig):
    name = "apps.briefings"
    label = "briefings"

    def ready(self) -> None:
        from apps.accounts.policy import agency_staff_filter
        from apps.briefings.models import Briefing
        from apps.briefings.services import BRIEFING_OBJECT
        from apps.calls.selectors import officers_on_call
        from apps.delivery.services import audience_resolver_register, recipient_filter_register

        recipient_filter_register(BRIEFING_OBJECT, agency_staff_filter(Briefing))
        audience_resolver_register("call", lambda agency_id, audience: officers_on_call(audience["call_id"]))
