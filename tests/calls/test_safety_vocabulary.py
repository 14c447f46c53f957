"""The officer-safety vocabulary against a table of real-style call phrases (tests/calls/safety_phrases.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from apps.calls import safety
from apps.calls.safety import safety_mentions
from apps.referrals.models import SafetyFlag

TABLE = Path(__file__).with_name("safety_phrases.csv")
ROWS = list(csv.DictReader(TABLE.open(newline="", encoding="utf-8")))
POSITIVES = [row for row in ROWS if row["flag"] != "none"]
NEGATIVES = [row for row in ROWS if row["flag"] == "none"]


def test_the_table_has_at_least_300_phrases_of_both_kinds() -> None:
    assert len(ROWS) >= 300
    assert len(POSITIVES) >= 200 and len(NEGATIVES) >= 80


def test_recall_on_every_positive_phrase_is_100_percent() -> None:
    missed = [row["phrase"] for row in POSITIVES if row["flag"] not in {m.flag for m in safety_mentions(row["phrase"])}]
    assert missed == [], f"recall {1 - len(missed) / len(POSITIVES):.1%}; missed: {missed}"


@pytest.mark.parametrize("row", NEGATIVES, ids=[row["phrase"][:40] for row in NEGATIVES])
def test_an_everyday_phrase_raises_no_safety_signal(row: dict[str, str]) -> None:
    assert safety_mentions(row["phrase"]) == []


@pytest.mark.parametrize("row", [r for r in POSITIVES if r["negated"] in ("yes", "both")],
                         ids=lambda row: row["phrase"][:40])
def test_a_negated_mention_is_kept_and_quoted_as_the_caller_said_it(row: dict[str, str]) -> None:
    mentions = [m for m in safety_mentions(row["phrase"]) if m.flag == row["flag"]]
    negated = [m for m in mentions if m.negated]
    assert negated, "a negated mention is never dropped"
    assert all(m.said in row["phrase"] for m in negated)
    assert "mentioned as absent" in negated[0].reason()
    if row["negated"] == "both":
        assert any(not m.negated for m in mentions), "the clause after 'but' is not negated"


@pytest.mark.parametrize("row", [r for r in POSITIVES if r["negated"] == "no"], ids=lambda row: row["phrase"][:40])
def test_a_plain_mention_is_not_taken_for_a_negation(row: dict[str, str]) -> None:
    assert any(not m.negated for m in safety_mentions(row["phrase"]) if m.flag == row["flag"])


def test_the_most_specific_firearm_is_named() -> None:
    assert [m.term for m in safety_mentions("suicidal and has a handgun")] == ["handgun"]
    assert "shotgun" in [m.term for m in safety_mentions("sawed-off shotgun")]
    assert safety_mentions("male carrying an AR-15")[0].term == "AR-15"


def test_its_flags_are_the_referral_safety_flags() -> None:
    assert {safety.WEAPONS, safety.VIOLENCE} <= set(SafetyFlag.values)
