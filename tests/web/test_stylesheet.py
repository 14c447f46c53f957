"""The one stylesheet both pages load: a rule left open silently drops every rule after it."""

from __future__ import annotations

import re
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parents[2] / "apps/web/static/web/style.css"


def test_every_block_in_the_stylesheet_is_closed() -> None:
    text = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"style.css line {number} closes a block that was never opened"
    assert depth == 0, f"style.css ends with {depth} block(s) still open"
