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

# Signals that make a scene unsafe for an unarmed responder until police secure it.
SAFETY_CATEGORIES = frozenset({Category.WEAPONS, Category.VIOLENT, Category.DOMESTIC})
SAFETY_WORDS = ("gun", "knife", "weapon", "armed", "shots", "shooting", "stab", "firearm", "machete", "assault")
SAFETY_FLAGS = frozenset({"armed", "violent_to_officers"})
SAFETY_HAZARD_KINDS = frozenset({"weapons", "violence_to_officers"})

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


def _words(code: str) -> str:
    """A stored code as an officer reads it: the category's label, or the code with spaces (never `welfare_check`)."""
    return str(Category(code).label) if code in Category.values else code.replace("_", " ")


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word.lower())}\b", text) is not None


def safety_signals(cues: Cues) -> list[str]:
    reasons: list[str] = []
    if cues.category in SAFETY_CATEGORIES:
        reasons.append(f"call category is {_words(cues.category)}")
    reasons += [f"'{w}' in the call text" for w in SAFETY_WORDS if _has_word(cues.text, w)]
    reasons += [f"caution flag {_words(f)} on a linked person" for f in sorted(cues.caution_flags & SAFETY_FLAGS)]
    reasons += [f"{_words(k)} hazard recorded here" for k in sorted(cues.hazard_kinds & SAFETY_HAZARD_KINDS)]
    return reasons


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
    safety = safety_signals(cues)
    for rule in rules:
        if not rule.enabled:
            continue
        reasons = rule_reasons(rule, cues)
        if not reasons:
            continue
        found = by_responder.setdefault(
            rule.responder,
            Recommendation(responder=rule.responder, mode="staged" if safety else "with_police",
                           safety_reasons=safety),
        )
        found.reasons += [f"{rule.name}: {reason}" for reason in reasons]
    return list(by_responder.values())
