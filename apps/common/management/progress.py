"""The progress bar every long management command shows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm


def command_progress(command: BaseCommand, options: dict[str, Any], *, total: int, unit: str,
                     desc: str | None = None) -> tqdm[Any]:
    """A bar on the command's own stderr (a terminal, or what call_command(stderr=...) was given), silent at
    --verbosity 0; `desc` is cut to 30 characters so the bar keeps to one line of a narrow terminal."""
    return tqdm(total=total, unit=unit, desc=desc[:30] if desc else None, disable=options["verbosity"] < 1,
                file=command.stderr._out)
