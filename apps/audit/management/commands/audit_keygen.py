from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.audit.signing import signing_key_new


class Command(BaseCommand):
    help = "Print a new Ed25519 private key for RTCC_AUDIT_SIGNING_KEY (docs/audit.md). Store it as a secret."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(signing_key_new())
