from __future__ import annotations

from django.apps import AppConfig


class SensorsConfig(AppConfig):
    name = "apps.sensors"
    label = "sensors"
    verbose_name = "Sensor alerts"

    def ready(self) -> None:
        from apps.accounts.policy import agency_staff_filter
        from apps.briefings.assembly import briefing_section_register
        from apps.delivery.services import recipient_filter_register
        from apps.sensors.models import Alert
        from apps.sensors.selectors import alert_briefing_items
        from apps.sensors.services import ALERT_OBJECT

        recipient_filter_register(ALERT_OBJECT, agency_staff_filter(Alert))
        briefing_section_register(alert_briefing_items)
