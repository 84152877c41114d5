"""Word knowledge for the narration verifier: lemmas, function words, facts, negation, modality, synonyms, antonyms.

Lemmas come from lemminflect's dictionary (shipped inside its wheel; no model is run and nothing is
downloaded). The lists below are deliberately small and explicit: a word the verifier does not know
how to relate to the cited lines leaves the sentence "unverified", never "verified".
"""

from __future__ import annotations

import re
from functools import lru_cache

from lemminflect import getAllLemmas


@lru_cache(maxsize=20_000)
def lemma_info(word: str) -> tuple[frozenset[str], frozenset[str]]:
    """(lemmas, parts of speech) of a lower-case word; the word itself is always one of its lemmas."""
    found = getAllLemmas(word)
    lemmas = {word}
    for values in found.values():
        lemmas.update(values)
    return frozenset(lemmas), frozenset(found)


def lemmas(word: str) -> frozenset[str]:
    return lemma_info(word)[0]


def noun_base(word: str) -> bool:
    """Can the word be a noun in its base form ("master", not "closes")?"""
    return word in getAllLemmas(word).get("NOUN", ())


def can_be_verb(word: str) -> bool:
    return bool(lemma_info(word)[1] & {"VERB", "AUX"})


def _groups(text: str) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in text.split(";"):
        members = {w.strip() for w in group.split(",") if w.strip()}
        for member in members:
            table.setdefault(member, set()).update(members - {member})
    return {k: frozenset(v) for k, v in table.items()}


def _pairs(text: str) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for pair in text.split(";"):
        left, right = (side.split(",") for side in pair.split("/"))
        for a in left:
            for b in right:
                a, b = a.strip(), b.strip()
                table.setdefault(a, set()).add(b)
                table.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in table.items()}


# Words that may be carried by meaning rather than by form (lemmas). Kept to true near-equivalents.
SYNONYMS = _groups(
    """rob, burgle; steal, pinch, nick; hide, conceal; leave, depart; begin, start; end, finish; buy, purchase;
    discover, find; shout, yell; afraid, scared, frightened; angry, furious; big, large; small, little, tiny; sick, ill;
    kid, child; dad, father; mum, mom, mother; cash, money; pistol, gun; arrive, reach; help, assist; choose, pick;
    quit, resign; marry, wed; wife, spouse; husband, spouse; police, cops; car, vehicle; boat, ship; speak, talk;
    fix, repair; attack, assault; burn, torch; kill, murder; phone, ring, call; return, back; truth, true; lie, liar;
    lie, lying; believe, trust; meet, see; sure, certain; quick, fast; shut, close; destroy, wreck; gift, present;
    plan, scheme; secret, hidden; run, flee; escape, flee; stay, remain; note, letter; wound, injure; hurt, injure"""
)

# Words whose opposite in the cited lines contradicts the sentence.
ANTONYMS = _pairs(
    """dawn, sunrise / dusk, sunset; morning / evening, night; day / night; open / close, closed, shut; win / lose;
    arrive / leave, depart; enter / exit, leave; buy / sell; accept / refuse, decline, reject; love / hate;
    alive / dead; live / die; friend / enemy; early / late; before / after; up / down; first / last; push / pull;
    lock / unlock; remember / forget; agree / refuse, disagree; find / lose; trust / distrust, mistrust; guilty / innocent;
    true / false; north / south; east / west; young / old; rich / poor; full / empty; inside / outside; light / dark;
    hot / cold; always / never; stay / leave, go; pass / fail; catch / release, free; arrest / release; hire / fire;
    marry / divorce; borrow / lend; brother / sister; husband / wife; son / daughter; father / mother; older / younger;
    upstairs / downstairs; send / receive; win / lose; success / failure;
    succeed / fail; ally / enemy, rival; safe / dangerous; above / below; laugh / cry; start / stop;
    remember / forgot; cheap / expensive; wet / dry; rise / fall; heavy / light"""
)

# Prepositions after a verb that reverse what it says ("voted for" / "voted against").
PREP_OPPOSITES: dict[str, frozenset[str]] = _pairs(
    "for / against; to / from; before / after; with / without; into / out; above / below; up / down; inside / outside"
)

NEGATORS = frozenset("not never no nobody nothing none neither nor nowhere cannot".split())
# Verbs that carry a negation of what follows ("refuses to go back" is "will not go back").
NEGATIVE_VERBS = frozenset("refuse decline deny fail".split())

# Modality of an action: what is said to happen, versus what someone will, may, must or tries to do.
MODAL_CLASS: dict[str, str] = {
    **dict.fromkeys("will shall would gonna".split(), "future"),
    **dict.fromkeys("might may could can".split(), "possible"),
    **dict.fromkeys("must should ought".split(), "obligation"),
}
# Verbs followed by "to" that put the action in a modality ("plans to rob", "tries to open").
MODAL_VERBS: dict[str, str] = {
    **dict.fromkeys(
        "plan intend mean want wish hope aim decide go threaten promise swear vow expect prepare arrange agree refuse".split(),
        "future",
    ),
    **dict.fromkeys("need have".split(), "obligation"),
    **dict.fromkeys("try attempt struggle".split(), "attempt"),
    **dict.fromkeys("seem appear claim pretend".split(), "seeming"),
}
# Verbs that report speech: the subject must be the speaker of a cited line.
SPEECH_VERBS = frozenset(
    """say tell admit claim insist warn reveal confess announce promise swear vow threaten explain ask reply answer shout
    whisper declare suggest complain mention remind beg order urge deny refuse agree inform""".split()
)
# Verbs of learning: the subject must be the speaker or the one spoken to.
LEARN_VERBS = frozenset("learn hear discover realise realize notice".split())

AUX = frozenset("be am is are was were been being have has had having do does did doing get gets got".split())
SUBJECT_PRONOUNS = frozenset("i we you he she they it someone somebody nobody everyone everybody anyone anybody who".split())
OBJECT_PRONOUNS = frozenset("me us him her them it you myself yourself himself herself themselves ourselves".split())
UNNAMED = frozenset("someone somebody nobody anyone anybody everyone everybody who".split())
DETERMINERS = frozenset("the a an his her their my your our its this that these those every each any some no".split())

# Function words and narration glue: never required to be carried by the cited lines.
FUNCTION_WORDS = frozenset(
    """a an the this that these those his her hers their theirs my mine your yours our ours its it it's he she they we i you
    me us him them himself herself themselves itself myself yourself ourselves who whom whose which what where when while
    how why whether if and or but nor so yet as at by for from in into of on onto to with within without over under up out
    off about through across along around toward towards upon there here be am is are was were been being have has had having
    do does did doing get gets got getting will would shall should can could may might must let lets
    then now also still already just even again meanwhile later previously episode soon finally eventually together
    instead own one's o'clock's""".split()
)
# Capitalised words that open a sentence without being names.
OPENERS = frozenset(
    """previously meanwhile later earlier after before when while once then now soon finally first next last still yet back
    together alone everyone someone nobody episode with without despite although though because since as in on at by from
    for to into onto under over during inside outside across behind beyond but and or so the a an this that these those his
    her their its our your my he she they we it there here what who whom which why how where only no not never yes oh okay
    ok well please hey sorry thanks listen look fine good great right""".split()
)
TITLES = frozenset(
    """mr mrs ms miss dr doctor captain mayor inspector sergeant private judge coach professor prof officer detective lord
    lady sir madam father mother sister brother uncle aunt st saint""".split()
)

NUMBER_WORDS = {
    **{
        w: i
        for i, w in enumerate(
            """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
            seventeen eighteen nineteen twenty""".split()
        )
    },
    **{"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90},
    **{"hundred": 100, "thousand": 1000, "million": 1_000_000, "dozen": 12, "twice": 2, "thrice": 3, "couple": 2},
}
ORDINALS = {
    w: i for i, w in enumerate("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split())
}
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
MONTHS = frozenset("january february march april june july august september october november december".split())
TIMES_OF_DAY = {
    "dawn": "dawn",
    "sunrise": "dawn",
    "daybreak": "dawn",
    "morning": "morning",
    "noon": "noon",
    "midday": "noon",
    "afternoon": "afternoon",
    "dusk": "dusk",
    "sunset": "dusk",
    "evening": "evening",
    "night": "night",
    "midnight": "midnight",
}
RELATIVE_DAYS = frozenset("yesterday today tonight tomorrow".split())
QUANTITIES = frozenset("all both every none several many few most some only half dozens hundreds thousands".split())
# Words that link two facts as cause and effect: an invented motive is a claim the lines must carry.
CAUSAL = frozenset("because since why reason revenge avenge therefore".split())

_DIGITS = re.compile(r"^(\d+)(st|nd|rd|th|s|am|pm)?$")
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})(am|pm)?$")


def fact_of(word: str, previous: str = "") -> tuple[str, str] | None:
    """The category and normalised value of a fact a word states (a number, a day, a month...), or None."""
    w = word.lower().strip("'’")
    if w in WEEKDAYS or w.rstrip("s") in WEEKDAYS:
        return ("weekday", w.rstrip("s"))
    if w in MONTHS or (w == "may" and word[:1] == "M" and previous):
        return ("month", w)
    if w in ("am", "pm", "a.m", "p.m") and previous and (previous[0].isdigit() or previous in NUMBER_WORDS):
        return ("time of day", w.replace(".", ""))
    if w in TIMES_OF_DAY:
        return ("time of day", TIMES_OF_DAY[w])
    if w in RELATIVE_DAYS:
        return ("day", w)
    if w in ORDINALS:
        return ("ordinal", str(ORDINALS[w]))
    if w in NUMBER_WORDS:
        if w == "one" and previous in ("no", "the", "every", "any", "some", "each", "which", "this", "that", "anyone"):
            return None
        return ("number", str(NUMBER_WORDS[w]))
    if w in QUANTITIES:
        return ("quantity", w)
    clock = _CLOCK.match(w)
    if clock:
        return ("time", f"{int(clock.group(1))}:{clock.group(2)}")
    digits = _DIGITS.match(w.lstrip("'"))
    if digits:
        value, suffix = int(digits.group(1)), digits.group(2) or ""
        if suffix in ("st", "nd", "rd", "th"):
            return ("ordinal", str(value))
        if suffix == "s" or w.startswith("'"):
            return ("year", f"{value % 100:02d}s")
        if 1000 <= value <= 2100 and len(digits.group(1)) == 4:
            return ("year", str(value))
        return ("number", str(value))
    return None


def same_or_synonym(a: frozenset[str], b: frozenset[str]) -> bool:
    """Do two words (as lemma sets) mean the same: a shared lemma or a listed synonym."""
    if a & b:
        return True
    return any(SYNONYMS.get(x, frozenset()) & b for x in a)


def opposite(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(ANTONYMS.get(x, frozenset()) & b for x in a)
