from __future__ import annotations

from django.apps import AppConfig


class EmergenciesConfig(AppConfig):
    name = "apps.emergencies"
    label = "emergencies"
    verbose_name = "Officer emergencies"

    def ready(self) -> None:
        from apps.calls.selectors import emergency_officers_register
        from apps.delivery.services import dispatcher_job_register, recipient_filter_register
        from apps.emergencies.selectors import incident_officers
        from apps.emergencies.services import (
            EMERGENCY_OBJECT,
            emergencies_escalate_due,
            emergencies_follow_up_due,
            emergency_locate,
            emergency_recipients_allowed,
            open_emergency_units,
        )
        from apps.locations.selectors import emergency_units_register
        from apps.locations.services import emergency_fixes_register

        recipient_filter_register(EMERGENCY_OBJECT, emergency_recipients_allowed)
        dispatcher_job_register(emergencies_escalate_due)
        dispatcher_job_register(emergencies_follow_up_due)
        emergency_units_register(open_emergency_units)
        # His own incident's news (briefing, clips) does not ring the phone of the officer who raised it.
        emergency_officers_register(incident_officers)
        # An emergency raised before the phone had a fix takes the first one stored after it.
        emergency_fixes_register(emergency_locate)
