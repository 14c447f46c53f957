"""Write apps/web/static/web/stream-protocol.js from apps/delivery/wire.py (the browser's copy of the control types)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from apps.delivery import wire

TARGET = Path(__file__).resolve().parents[3] / "web" / "static" / "web" / "stream-protocol.js"


class Command(BaseCommand):
    help = "Regenerate the browser's stream protocol constants from apps/delivery/wire.py."

    def handle(self, *args: Any, **options: Any) -> None:
        TARGET.write_text(wire.browser_module())
        self.stdout.write(f"wrote {TARGET}")
