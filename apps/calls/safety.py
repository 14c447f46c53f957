"""Officer-safety words in call text: the one vocabulary briefings, referrals and anything else reading calls use.

Missing a weapon is the failure that matters; a false alarm only stages a co-responder. So the
terms match every common name and inflection ("handgun", "pistols", "stabbed", "shot at",
"WPN"), and a negated mention ("no weapons seen", "(NO SHOOTINGS)") is still reported, worded
as what the caller said, never dropped. tests/calls/safety_phrases.csv holds the phrases the
vocabulary is measured against (recall on its positives must stay 100 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Flags, spelled as apps.referrals.models.SafetyFlag spells them (tests/calls/test_safety_vocabulary.py checks).
WEAPONS = "weapons"
VIOLENCE = "violence_to_responders"

# (flag, the term a reason names, a regular expression over lower-cased text). Order: the specific before the
# general, so "shotgun" is named as a shotgun, not as "shot".
VOCABULARY: tuple[tuple[str, str, str], ...] = (
    (WEAPONS, "AR-15", r"\bar[- ]?15s?\b"),
    (WEAPONS, "AK-47", r"\bak[- ]?47s?\b"),
    (WEAPONS, "assault rifle", r"\bassault[- ]rifles?\b"),
    (WEAPONS, "handgun", r"\bhand[- ]?guns?\b"),
    (WEAPONS, "shotgun", r"\bshot[- ]?guns?\b"),
    (WEAPONS, "long gun", r"\blong[- ]?guns?\b"),
    (WEAPONS, "rifle", r"\brifles?\b"),
    (WEAPONS, "pistol", r"\bpistols?\b|\bpistol[- ]whip\w*"),
    (WEAPONS, "revolver", r"\brevolvers?\b"),
    (WEAPONS, "firearm", r"\bfire[- ]?arms?\b"),
    (WEAPONS, "gunshot", r"\bgun[- ]?shots?\b|\bgun[- ]?fire\b|\bgun[- ]?point\b|\bgun[- ]?m[ae]n\b"),
    (WEAPONS, "gun", r"\bguns?\b|\bglocks?\b|\buzis?\b|\bsawed[- ]off\b|\b(?:9|10) ?mm\b"
                     r"|(?<![\w.])\.(?:22|38|357|380|45)\b|\b(?:22|38|45) cal(?:iber)?\b"),
    (WEAPONS, "shots", r"\bshot at\b|\bshots?\b"),
    (WEAPONS, "shooting", r"\bshoot(?:s|ing|ings|er|ers)?\b|\bshootout\b"),
    (WEAPONS, "ammunition", r"\bammo\b|\bammunition\b|\bbullets?\b|\b(?:shell )?casings?\b|\brounds fired\b"),
    (WEAPONS, "machete", r"\bmachetes?\b"),
    (WEAPONS, "knife", r"\bknife\b|\bknives\b|\bknifed\b|\bknifing\b|\bswitch[- ]?blades?\b|\bbox[- ]?cutters?\b"
                       r"|\bdaggers?\b|\bswords?\b|\bblades?\b"),
    (WEAPONS, "stabbing", r"\bstab(?:s|bed|bing|bings|ber)?\b|\bslash(?:ed|ing)\b|\bcutting\b"),
    (WEAPONS, "explosive", r"\bbombs?\b|\bpipe[- ]bombs?\b|\bgrenades?\b|\bexplosives?\b|\bied\b|\bmolotov\b"),
    (WEAPONS, "armed", r"\barmed with\b|\b(?:un)?armed\b"),
    (WEAPONS, "brandishing", r"\bbrandish(?:es|ed|ing)?\b"),
    (WEAPONS, "weapon", r"\bweapons?\b|\bwpns?\b|\bweapn\b"),
    (VIOLENCE, "violence toward officers",
     r"\b(?:assault|attack|fight|fought|punch|kick|bit|bite|spit|swung|swing|threat)\w*\W+(?:\w+\W+){0,3}"
     r"(?:officers?|police|cops?|deputies|deputy|troopers?|responders?)\b"
     r"|\b(?:hates?|kill|shoot|hurt|fight)\w*\W+(?:the\W+)?(?:officers?|police|cops?|deputies)\b"
     r"|\bsuicide by cop\b|\bambush\w*\b|\bresist\w*\W+arrest\b|\bcombative\b|\bbarricaded\b|\bhostages?\b"),
    (VIOLENCE, "violence", r"\bviolen(?:t|ce)\b|\bassault\w*\b|\baslt\b"),
)
_COMPILED = tuple((flag, term, re.compile(pattern)) for flag, term, pattern in VOCABULARY)

# Everyday phrases that contain a term but name no weapon. Kept short: each one is a judgement that the
# phrase can never mean a weapon at a call (tests/calls/safety_phrases.csv lists them as negatives).
NOT_WEAPONS = re.compile(
    r"\b(?:flu|booster|covid|insulin|vaccine|b12|allergy) shots?\b|\bshot glass(?:es)?\b|\bmug ?shots?\b"
    r"|\bscreen ?shots?\b|\b(?:glue|nail|staple|heat|caulk|caulking|paint|spray|water|nerf|radar|toy|squirt) guns?\b"
    r"|\bphoto ?shoots?\b|\bbutter knife\b|\bcutting (?:board|in line|through)\b|\bprices? slashed\b"
    r"|\b(?:rotor|fan|wiper|skate|shoulder) blades?\b|\barmed forces\b|\bstrong[- ]armed\b|\bcasings? of the window\b"
    r"|\bblade of grass\b")

# A negation in the few words before a term, within the same clause ("no weapons seen", "did not see a gun",
# "W/O WPNS"); "with or without" is not a negation.
_NEGATION = re.compile(r"\b(?:no|not|nor|without|w/o|denies|denied|deny|never|none|unarmed|negative for)\b")
_CLAUSE_BREAK = re.compile(r"[.;,:!?()]|\b(?:but|and|then|however|although|though|yet)\b")
_NEGATION_WORDS = 4


@dataclass(frozen=True)
class SafetyMention:
    flag: str
    term: str
    # The words as they stand in the text, with a negation in front when there was one.
    said: str
    negated: bool

    def reason(self) -> str:
        if self.negated:
            return f"the call text says '{self.said}' ({self.term} mentioned as absent; not confirmed)"
        named = "" if self.said.lower() == self.term.lower() else f" ({self.term})"
        return f"'{self.said}' in the call text{named}"


def _negation_before(text: str, start: int) -> int | None:
    """Where a negation governing the term at `start` begins, or None."""
    clause_start = 0
    for found in _CLAUSE_BREAK.finditer(text, 0, start):
        clause_start = found.end()
    before = text[clause_start:start]
    if re.search(r"\bwith or\s*$", before) or re.search(r"\bwith or (?:without|w/o)\s*$", before):
        return None
    words = list(re.finditer(r"\S+", before))[-_NEGATION_WORDS:]
    if not words:
        return None
    window_start = clause_start + words[0].start()
    negations = list(_NEGATION.finditer(text, window_start, start))
    if not negations or re.search(r"\bwith or (?:without|w/o)\b", text[max(0, negations[-1].start() - 8):start]):
        return None
    return negations[0].start()


def _clause_tail(text: str, end: int) -> int:
    """The end of one more word of the clause, so "no weapons seen" is quoted whole."""
    tail = re.match(r"(?:[ \t]+[\w/'-]+)?", text[end:])
    words = tail.group() if tail else ""
    cut = _CLAUSE_BREAK.search(words)
    return end + len((words[:cut.start()] if cut else words).rstrip())


def safety_mentions(text: str) -> list[SafetyMention]:
    """Every weapon or violence term in the text, in order; words are named once per flag, by the most specific term."""
    lowered = text.lower()
    excluded = [m.span() for m in NOT_WEAPONS.finditer(lowered)]
    taken: list[tuple[str, int, int]] = []
    found: list[tuple[int, SafetyMention]] = []
    for flag, term, pattern in _COMPILED:
        for match in pattern.finditer(lowered):
            start, end = match.span()
            if any(s < end and start < e for s, e in excluded) or any(
                    f == flag and s < end and start < e for f, s, e in taken):
                continue
            taken.append((flag, start, end))
            negation = _negation_before(lowered, start)
            negated = negation is not None or lowered.startswith("un", start)
            if negated:
                end = _clause_tail(lowered, end)
            said = text[negation if negation is not None else start:end]
            found.append((start, SafetyMention(flag=flag, term=term, said=" ".join(said.split()), negated=negated)))
    found.sort(key=lambda pair: pair[0])
    return [mention for _, mention in found]


def safety_flags(text: str) -> set[str]:
    return {mention.flag for mention in safety_mentions(text)}
