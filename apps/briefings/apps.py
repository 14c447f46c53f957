from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _call_changed(sender: Any, call_id: int, reason: str, **kwargs: Any) -> None:
    from apps.briefings.tasks import briefing_assemble_later

    briefing_assemble_later(call_id=call_id, reason=reason)


class BriefingsConfig(AppConfig):
    name = "apps.briefings"
    label = "briefings"

    def ready(self) -> None:
        from apps.accounts.policy import agency_staff_filter
        from apps.briefings.models import Briefing
        from apps.briefings.services import BRIEFING_OBJECT
        from apps.calls.selectors import officers_on_call
        from apps.calls.signals import call_changed
        from apps.delivery.services import audience_resolver_register, recipient_filter_register

        recipient_filter_register(BRIEFING_OBJECT, agency_staff_filter(Briefing))
        audience_resolver_register("call", lambda agency_id, audience: officers_on_call(audience["call_id"]))
        # The apps a briefing is built from say when a call changed; the assembly is queued after commit.
        call_changed.connect(_call_changed, dispatch_uid="briefings.call_changed")
