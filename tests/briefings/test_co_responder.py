from __future__ import annotations

import pytest

from apps.briefings.models import RecommendationRule
from apps.briefings.rules import DEFAULT_RULES, Cues, recommend
from apps.calls.models import Category


def _rules() -> list[RecommendationRule]:
    return [RecommendationRule(**rule) for rule in DEFAULT_RULES]  # type: ignore[arg-type]


def _cues(category: str = Category.OTHER, text: str = "", flags: tuple[str, ...] = (),
          hazards: tuple[str, ...] = ()) -> Cues:
    return Cues(category=category, text=text.lower(), caution_flags=frozenset(flags), hazard_kinds=frozenset(hazards))


@pytest.mark.parametrize(("cues", "responder", "reason"), [
    (_cues(Category.MENTAL_HEALTH), "behavioral_health", "call category is Mental health"),
    (_cues(text="Caller says her son is suicidal"), "behavioral_health", "'suicidal' in the call text"),
    (_cues(Category.WELFARE_CHECK), "behavioral_health", "call category is Welfare check"),
    (_cues(flags=("mental_health_crisis",)), "behavioral_health", "caution flag mental health crisis"),
    (_cues(Category.OVERDOSE), "overdose", "call category is Overdose"),
    (_cues(text="Man unresponsive, friend gave Narcan"), "overdose", "'narcan' in the call text"),
])
def test_the_rules_fire_on_their_cues_and_say_why(cues: Cues, responder: str, reason: str) -> None:
    found = recommend(_rules(), cues)
    assert [r.responder for r in found] == [responder]
    assert any(reason in text for text in found[0].reasons)
    assert found[0].mode == "with_police"


@pytest.mark.parametrize("cues", [
    _cues(Category.DISTURBANCE, "neighbours arguing"),
    _cues(Category.TRAFFIC, "collision, no injuries"),
    _cues(text="the odd couple next door"),  # 'od' only as a whole word
])
def test_no_recommendation_without_a_cue(cues: Cues) -> None:
    assert recommend(_rules(), cues) == []


@pytest.mark.parametrize("cues", [
    _cues(Category.MENTAL_HEALTH, "suicidal man with a knife"),
    _cues(Category.WEAPONS, "suicidal, has a gun"),
    _cues(Category.MENTAL_HEALTH, flags=("armed",)),
    _cues(Category.OVERDOSE, hazards=("violence_to_officers",)),
])
def test_a_weapons_or_violence_call_gets_police_first_never_a_co_responder_alone(cues: Cues) -> None:
    found = recommend(_rules(), cues)
    assert found, "a co-responder is still recommended, staged"
    for rec in found:
        assert rec.mode == "staged"
        assert rec.safety_reasons


def test_a_disabled_rule_does_not_fire() -> None:
    rules = _rules()
    for rule in rules:
        rule.enabled = False
    assert recommend(rules, _cues(Category.OVERDOSE)) == []
