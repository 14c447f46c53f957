from __future__ import annotations

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "apps.referrals"
    label = "referrals"

    def ready(self) -> None:
        from apps.delivery.services import dispatcher_job_register, recipient_filter_register
        from apps.referrals.services import REFERRAL_OBJECT, referral_offers_roll_over, referral_recipients_allowed

        recipient_filter_register(REFERRAL_OBJECT, referral_recipients_allowed)
        # Unanswered offers roll over to the next person on call, from the dispatcher's loop.
        dispatcher_job_register(lambda: referral_offers_roll_over())
