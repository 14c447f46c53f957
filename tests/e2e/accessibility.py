"""axe-core (vendored from npm, tests/e2e/vendor/VENDORED.md) run inside a page, and the page-size checks.

axe.min.js is evaluated through the DevTools protocol, which the pages' Content-Security-Policy does not
govern, so the page under test keeps its real policy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
# WCAG 2.1 A and AA: what the issue asks (day and night contrast that passes WCAG 2.1 AA).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_blocking_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it is now, with a few nodes each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source() + "\n;0")
    found = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})))", AXE_TAGS)
    return [v for v in found if v["impact"] in BLOCKING]


def horizontal_overflow(page: Any) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page: the first larger than the second means it scrolls sideways."""
    return tuple(page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]"))
