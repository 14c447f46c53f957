from __future__ import annotations

from django.apps import AppConfig


class BriefingsConfig(AppConfig):
    name = "apps.briefings"
    label = "briefings"

    def ready(self) -> None:
        from apps.briefings.services import BRIEFING_OBJECT, briefing_recipients_allowed, officers_on_call
        from apps.delivery.services import audience_resolver_register, recipient_filter_register

        recipient_filter_register(BRIEFING_OBJECT, briefing_recipients_allowed)
        audience_resolver_register("call", lambda agency_id, audience: officers_on_call(audience["call_id"]))
