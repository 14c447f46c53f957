from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _forget_permission_ids(**kwargs: Any) -> None:
    # A flush (TransactionTestCase) re-creates permissions under new ids; the cached ones would match nothing.
    from apps.cases.selectors import _permission_id

    _permission_id.cache_clear()


class CasesConfig(AppConfig):
    name = "apps.cases"
    label = "cases"

    def ready(self) -> None:
        from apps.cases.services import CASE_OBJECT, case_recipients_allowed
        from apps.delivery.services import recipient_filter_register

        recipient_filter_register(CASE_OBJECT, case_recipients_allowed)
        post_migrate.connect(_forget_permission_ids, dispatch_uid="cases.forget_permission_ids")
