"""What the management commands share about agencies."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.accounts.models import Agency


def agency_for_command(ori: str) -> Agency:
    """The agency a command names by its ORI (--agency), or CommandError saying there is none."""
    agency = Agency.objects.filter(ori=ori).first()
    if agency is None:
        raise CommandError(f"No agency with ORI {ori}.")
    return agency
