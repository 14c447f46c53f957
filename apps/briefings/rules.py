"""Whether a behavioral-health or overdose co-responder should go along, and why.

The rules are data (RecommendationRule rows, editable through the API); this
module only evaluates them. Safety always wins: when weapons or violence are
in the picture, the recommendation is police first with the co-responder
staged nearby, never a co-responder alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.briefings.models import RecommendationRule
from apps.calls.models import Category
from apps.calls.safety import VIOLENCE, WEAPONS, safety_mentions

# Signals that make a scene unsafe for an unarmed responder until police secure it, and the safety flag
# (apps.referrals.models.SafetyFlag) each one raises. Words in the call text: apps/calls/safety.py.
SAFETY_CATEGORIES: dict[str, str] = {Category.WEAPONS: WEAPONS, Category.VIOLENT: VIOLENCE, Category.DOMESTIC: VIOLENCE}
SAFETY_FLAGS = {"armed": WEAPONS, "violent_to_officers": VIOLENCE}
SAFETY_HAZARD_KINDS = {"weapons": WEAPONS, "violence_to_officers": VIOLENCE}
HAZARD = "hazard"

DEFAULT_RULES: tuple[dict[str, object], ...] = (
    {
        "name": "Behavioral-health crisis",
        "responder": RecommendationRule.Responder.BEHAVIORAL_HEALTH,
        "categories": [Category.MENTAL_HEALTH, Category.WELFARE_CHECK],
        "narrative_keywords": ["suicidal", "suicide", "mental health", "crisis", "psych", "hearing voices",
                               "welfare check", "behavioral", "emotional"],
        "caution_flags": ["mental_health_crisis"],
        "explanation": "Calls about a person in mental-health crisis go better with a behavioral-health technician.",
    },
    {
        "name": "Overdose",
        "responder": RecommendationRule.Responder.OVERDOSE,
        "categories": [Category.OVERDOSE],
        "narrative_keywords": ["overdose", "od", "narcan", "naloxone", "unresponsive", "fentanyl", "heroin"],
        "caution_flags": ["narcotics"],
        "explanation": "Suspected overdoses: an overdose response technician brings naloxone and follow-up care.",
    },
)


@dataclass(frozen=True)
class Cues:
    category: str
    text: str
    caution_flags: frozenset[str]
    hazard_kinds: frozenset[str]


@dataclass
class Recommendation:
    responder: str
    # "with_police": the co-responder goes along; "staged": police first, co-responder waits nearby.
    mode: str
    reasons: list[str] = field(default_factory=list)
    safety_reasons: list[str] = field(default_factory=list)
    safety_flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SafetySignal:
    flag: str
    reason: str
    # Where it was found: the call itself (its category or text), a linked person's caution flag, or a hazard
    # recorded at the place. The briefing's weapon card shows the call's own signals.
    source: str = "call"


FROM_CALL, FROM_PERSON, FROM_HAZARD = "call", "person", "hazard"


def _words(code: str) -> str:
    """A stored code as an officer reads it: the category's label, or the code with spaces (never `welfare_check`)."""
    return str(Category(code).label) if code in Category.values else code.replace("_", " ")


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word.lower())}\b", text.lower()) is not None


def safety_signals(cues: Cues) -> list[SafetySignal]:
    """Everything that makes the scene unsafe, each with the flag it raises; a negated mention counts too."""
    signals: list[SafetySignal] = []
    if cues.category in SAFETY_CATEGORIES:
        signals.append(SafetySignal(SAFETY_CATEGORIES[cues.category], f"call category is {_words(cues.category)}"))
    signals += [SafetySignal(m.flag, m.reason()) for m in safety_mentions(cues.text)]
    signals += [SafetySignal(SAFETY_FLAGS[f], f"caution flag {_words(f)} on a linked person", FROM_PERSON)
                for f in sorted(cues.caution_flags & SAFETY_FLAGS.keys())]
    for kind in sorted(cues.hazard_kinds & SAFETY_HAZARD_KINDS.keys()):
        signals += [SafetySignal(SAFETY_HAZARD_KINDS[kind], f"{_words(kind)} hazard recorded here", FROM_HAZARD),
                    SafetySignal(HAZARD, f"{_words(kind)} hazard recorded here", FROM_HAZARD)]
    return signals


def rule_reasons(rule: RecommendationRule, cues: Cues) -> list[str]:
    reasons: list[str] = []
    if cues.category in rule.categories:
        reasons.append(f"call category is {_words(cues.category)}")
    reasons += [f"'{w}' in the call text" for w in rule.narrative_keywords if _has_word(cues.text, w)]
    reasons += [f"caution flag {_words(f)} on a linked person" for f in rule.caution_flags if f in cues.caution_flags]
    return reasons


def recommend(rules: Iterable[RecommendationRule], cues: Cues) -> list[Recommendation]:
    """One recommendation per responder whose rules fired, with every reason that fired."""
    by_responder: dict[str, Recommendation] = {}
    signals = safety_signals(cues)
    safety = list(dict.fromkeys(s.reason for s in signals))
    flags = sorted({s.flag for s in signals})
    for rule in rules:
        if not rule.enabled:
            continue
        reasons = rule_reasons(rule, cues)
        if not reasons:
            continue
        found = by_responder.setdefault(
            rule.responder,
            Recommendation(responder=rule.responder, mode="staged" if safety else "with_police",
                           safety_reasons=safety, safety_flags=flags),
        )
        found.reasons += [f"{rule.name}: {reason}" for reason in reasons]
    return list(by_responder.values())
