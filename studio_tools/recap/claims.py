"""Claim-level checking of one narration sentence against the subtitle lines it cites (no model).

A sentence is split into claims: each action (who does it, negated or not, done / planned / possible /
asked about), each fact (numbers, quantities, weekdays, months, dates, times of day, ordinals, years),
each report of speech ("Marta says...": Marta must speak a cited line) and every remaining content
word (which the lines must carry, by lemma or a listed synonym). Each claim is "supported",
"contradicted" (the lines say otherwise: a flipped negation, another person doing it, another day,
an antonym) or "unverified" (the lines do not establish it). The speaker of a line is known apart
from the people it mentions: "MARTA: I will not go" supports "Marta will not go", while
"JONAS: someone will rob it" supports neither "Jonas robs it" nor "someone robs it".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lemminflect import getInflection

from studio_tools.recap import lexicon as lx

_TOKEN = re.compile(
    r"\d{1,2}[:.]\d{2}(?:am|pm)?|'\d{2}s|\d+(?:st|nd|rd|th|s|am|pm)?\b|\d+"
    r"|[A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’][A-Za-zÀ-ÖØ-öø-ÿ]+)*|\.\.\.|[,;:.!?—–…\"“”]"
)
_CONTRACTIONS = {"won't": ["will", "not"], "can't": ["can", "not"], "shan't": ["shall", "not"], "cannot": ["can", "not"]}
_SUFFIXES = {"n't": "not", "'m": "am", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would"}
_IS_AFTER = frozenset("he she it that there what who where here how".split())
_LABEL = re.compile(r"^([A-ZÀ-Ö][\w'’.]*(?:[ -][A-ZÀ-Ö][\w'’.]*){0,2})\s*:\s+(\S.*)$", re.S)
_STOP = frozenset(",;:.!?—–…")
_CLAUSE_END = frozenset(".!?;")
_SKIP_ADVERBS = frozenset(
    "also still already just then now soon finally really even always ever again actually all both secretly quietly".split()
)
_PREPOSITIONS = frozenset("in on at for of with from by into onto about over under through after before without".split())
_CONJUNCTIONS = frozenset("and or but then".split())


def split_speakers(text: str) -> list[tuple[str | None, str]]:
    """A cue's text as (speaker, words) parts: "MARTA: I will not" -> [("Marta", "I will not")];
    "- Marta: Go. - Jonas: No." -> two parts; a line without a label -> [(None, text)]."""
    text = " ".join(text.split())
    pieces = [p for p in re.split(r"(?:^|\s)[-–]\s+", text) if p.strip()] or [text]
    parts: list[tuple[str | None, str]] = []
    for piece in pieces:
        match = _LABEL.match(piece.strip())
        if match and not match.group(1)[0].isdigit():
            parts.append((match.group(1).title(), match.group(2).strip()))
        else:
            parts.append((None, piece.strip()))
    return parts


def speaker_and_text(text: str) -> tuple[str | None, str]:
    """(speaker, words) of a cue spoken by one labelled speaker; (None, text) otherwise."""
    parts = split_speakers(text)
    if len(parts) == 1 and parts[0][0]:
        return parts[0]
    return None, " ".join(text.split())


@dataclass
class Tok:
    text: str
    low: str
    lem: frozenset[str]
    cap: bool = False
    name: bool = False
    punct: bool = False
    first: bool = False
    poss: bool = False  # "Owen's": the owner of what follows


_ABBREVIATIONS = frozenset("mr mrs ms dr st prof".split())


def tokenize(text: str, known_names: frozenset[str] = frozenset()) -> list[Tok]:
    raw: list[tuple[str, bool]] = []
    for word in _TOKEN.findall(text.replace("’", "'")):
        low = word.lower()
        if low in _CONTRACTIONS:
            raw.extend((w, False) for w in _CONTRACTIONS[low])
            continue
        if word == "." and raw and raw[-1][0].lower() in _ABBREVIATIONS:
            continue  # "Dr. Shah" is one name, not the end of a sentence
        for suffix, full in _SUFFIXES.items():
            if low.endswith(suffix) and len(low) > len(suffix):
                raw.extend([(word[: -len(suffix)], False), (full, False)])
                break
        else:
            if low.endswith("'s") and len(low) > 2:
                base = word[:-2]
                if base.lower() in _IS_AFTER:
                    raw.extend([(base, False), ("is", False)])
                elif base.lower() == "let":
                    raw.extend([(base, False), ("us", False)])
                else:
                    raw.append((base, True))
            elif low.endswith("s'") and len(low) > 2:
                raw.append((word[:-1], True))
            else:
                raw.append((word, False))
    merged: list[tuple[str, bool]] = []
    for word, poss in raw:  # "no one" is "nobody"
        if word.lower() == "one" and merged and merged[-1][0].lower() == "no":
            merged[-1] = (merged[-1][0][0] + "obody", False)
            continue
        merged.append((word, poss))
    toks: list[Tok] = []
    first = True
    for word, poss in merged:
        low = word.lower()
        if word in _STOP or word in ('"', "“", "”", "..."):
            toks.append(Tok(word, word, frozenset(), punct=True))
            if word in _CLAUSE_END or word in ("...", "…", ":"):
                first = True
            continue
        cap = word[0].isupper()
        name = False
        if cap and low in known_names and low not in lx.FUNCTION_WORDS:
            name = True  # a speaker's name, even one that is also a month or a word ("JUNE: ...", "June says")
        elif cap and low not in lx.FUNCTION_WORDS and low not in lx.OPENERS and low != "i" and lx.fact_of(word) is None:
            name = (not first) or low in known_names or low in lx.TITLES or not lx.can_be_verb(low)
        toks.append(Tok(word, low, lx.lemmas(low) if not name else frozenset({low}), cap, name, False, first, poss))
        first = False
    return toks


def person(names: set[str] | frozenset[str]) -> frozenset[str]:
    """A person's identifying names, without titles ("Dr. Shah" -> {"shah"}; "Coach" stays "coach")."""
    cleaned = {n.strip(".").lower() for n in names}
    kept = {n for n in cleaned if n not in lx.TITLES}
    return frozenset(kept or cleaned)


@dataclass
class Utterance:
    """What one speaker says in one cited cue, tokenised."""

    cue_id: str
    speaker: str | None
    text: str
    toks: list[Tok]
    addressees: frozenset[str]

    @property
    def who(self) -> frozenset[str]:
        return person(set(self.speaker.split())) if self.speaker else frozenset()


def utterances(cue_id: str, text: str, known_names: frozenset[str]) -> list[Utterance]:
    result = []
    for speaker, words in split_speakers(text):
        toks = tokenize(words, known_names)
        result.append(Utterance(cue_id, speaker.lower() if speaker else None, words, toks, _vocatives(toks)))
    return result


def _name_runs(toks: list[Tok]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive name tokens."""
    runs, i = [], 0
    while i < len(toks):
        if toks[i].name:
            j = i
            while j + 1 < len(toks) and toks[j + 1].name and not toks[j].poss:
                j += 1
            runs.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    return runs


def _vocatives(toks: list[Tok]) -> frozenset[str]:
    """Names spoken to: "Mara, the ledger..." / "...to take, Velmont." / "Private Kim, guard the gate."."""
    found: set[str] = set()
    for a, b in _name_runs(toks):
        before = toks[a - 1] if a > 0 else None
        after = toks[b] if b < len(toks) else None
        if (before is None or before.text in _STOP) and after is not None and after.text == ",":
            found |= person({t.low for t in toks[a:b]})
        elif before is not None and before.text == "," and (after is None or after.text in ".!?"):
            found |= person({t.low for t in toks[a:b]})
    return frozenset(found)


@dataclass
class Role:
    """Who (or what) does an action, whether it is negated, and its modality."""

    kind: str  # "person", "group", "unnamed", "pronoun", "thing", "none", "imperative", "unknown"
    names: frozenset[str] = frozenset()
    word: str = ""
    negated: bool = False
    modality: str = "actual"
    resolved_from: str = ""  # "I" -> the speaker, "you" -> the one spoken to...
    owner: str = ""  # for a thing: "my", "your", "his", "her", "their", "our" or "name:<names>"

    def describe(self) -> str:
        if self.kind == "person":
            return " and ".join(n.title() for n in sorted(self.names))
        if self.kind == "group":
            return "a group including " + " and ".join(n.title() for n in sorted(self.names))
        if self.kind == "none":
            return "nobody"
        if self.kind in ("imperative", "unknown"):
            return "nobody named"
        return f"“{self.word}”"


_OWNER_WORDS = frozenset("my your his her their our".split())


def _owner(toks: list[Tok], i: int) -> str:
    """Whose the noun at i is: "my younger brother" -> "my"; "Owen's father" -> "name:owen"."""
    j = i - 1
    while j >= 0 and j >= i - 3 and not toks[j].punct:
        t = toks[j]
        if t.poss:
            k = j
            names = {t.low}
            while k - 1 >= 0 and toks[k - 1].name:
                k -= 1
                names.add(toks[k].low)
            return "name:" + " ".join(sorted(person(names)))
        if t.low in _OWNER_WORDS:
            return t.low
        if t.low in lx.DETERMINERS or t.name or t.low in _PREPOSITIONS:
            return ""
        j -= 1
    return ""


def _role(toks: list[Tok], v: int) -> Role:
    role = _scan_role(toks, v)
    if role.modality in ("actual", "future", "possible") and _conditional(toks, v):
        role.modality = "conditional"
    return role


def _conditional(toks: list[Tok], v: int) -> bool:
    """Is the action at v only said to follow from a condition ("if...", "unless...", "Give me X and nobody gets hurt")?"""
    a = v
    while a > 0 and toks[a - 1].text not in _CLAUSE_END:
        a -= 1
    b = v
    while b < len(toks) and toks[b].text not in _CLAUSE_END:
        b += 1
    if any(t.low in ("if", "unless", "otherwise") for t in toks[a:b]):
        return True
    first = toks[a] if a < len(toks) else None
    imperative = (
        first is not None
        and a != v
        and not first.name
        and lx.can_be_verb(first.low)
        and first.low in first.lem
        and first.low not in lx.AUX
        and first.low not in lx.FUNCTION_WORDS
    )
    return imperative and any(t.low in ("and", "or") for t in toks[a:v])


def _scan_role(toks: list[Tok], v: int) -> Role:
    """Scan back from the verb at v to its subject, collecting negation and modality on the way."""
    negated = False
    modality: str | None = None
    infinitive = False
    coordinated = False
    i = v - 1
    while i >= 0:
        t = toks[i]
        low = t.low
        if t.punct:
            if t.text in ('"', "“", "”"):
                i -= 1
                continue
            break
        if low in lx.NEGATORS and low not in ("nobody", "nothing"):
            negated = True
        elif low in lx.MODAL_CLASS:
            modality = modality or lx.MODAL_CLASS[low]
        elif low == "to":
            infinitive = True
            prev = toks[i - 1] if i > 0 else None
            if prev is not None and not prev.punct and not prev.name:
                marker = next((m for m in sorted(prev.lem) if m in lx.MODAL_VERBS), None)
                if prev.low == "able":
                    modality = modality or "possible"
                    i -= 1
                elif marker is not None:
                    if marker in lx.NEGATIVE_VERBS:
                        negated = not negated
                    modality = modality or lx.MODAL_VERBS[marker]
                    i -= 1
                elif prev.lem & lx.NEGATIVE_VERBS:
                    negated = not negated
                    i -= 1
        elif low in lx.AUX or low in _SKIP_ADVERBS or (low.endswith("ly") and not t.name and len(low) > 4):
            pass
        elif low in _CONJUNCTIONS:
            coordinated = True
        elif low in ("nobody", "nothing"):
            return Role("none", word=t.text, negated=True, modality=_mod(modality, infinitive))
        elif low in lx.SUBJECT_PRONOUNS:
            kind = "unnamed" if low in lx.UNNAMED else "pronoun"
            return Role(kind, word=low, negated=negated, modality=_mod(modality, infinitive))
        elif t.name:
            run = _name_runs(toks[: i + 1])[-1]
            names = {x.low for x in toks[run[0] : run[1]]}
            j = run[0] - 1
            while j >= 1 and toks[j].low in ("and", ",") and toks[j - 1].name:  # "Mara and Tobias"
                names.add(toks[j - 1].low)
                j -= 2
            return Role("person", person(names), t.text, negated, _mod(modality, infinitive))
        elif low in lx.OBJECT_PRONOUNS and not coordinated:
            return Role("pronoun", word=low, negated=negated, modality=_mod(modality, infinitive))
        elif coordinated or low in lx.DETERMINERS or low in _PREPOSITIONS or low in lx.OBJECT_PRONOUNS:
            pass
        else:
            return Role("thing", frozenset(t.lem), t.low, negated, _mod(modality, infinitive), owner=_owner(toks, i))
        i -= 1
    imperative = i < 0 or toks[i].punct
    if imperative and v == _clause_start(toks, v) and modality is None and not infinitive:
        return Role("imperative", word="(an order)", negated=negated, modality="imperative")
    return Role("unknown", word="(no subject)", negated=negated, modality=_mod(modality, infinitive))


def _mod(modality: str | None, infinitive: bool) -> str:
    return modality or ("infinitive" if infinitive else "actual")


def _clause_start(toks: list[Tok], v: int) -> int:
    i = v
    while i > 0 and not toks[i - 1].punct:
        i -= 1
    while i < v and (toks[i].low in lx.NEGATORS or toks[i].low in ("do", "just", "now", "please")):
        i += 1
    return i


def _post_negation(toks: list[Tok], v: int) -> bool:
    for t in toks[v + 1 : v + 3]:
        if t.punct:
            return False
        if t.low in lx.NEGATORS:
            return True
        if t.low not in ("a", "an", "the", "any"):
            return False
    return False


def _is_question(toks: list[Tok], v: int) -> bool:
    for t in toks[v:]:
        if t.text in _CLAUSE_END:
            return t.text == "?"
    return False


def _verb_positions(toks: list[Tok]) -> list[int]:
    """Indices of lexical verbs (not auxiliaries, modals or "plans to"-style markers)."""
    found = []
    for i, t in enumerate(toks):
        if t.punct or t.name or not lx.can_be_verb(t.low) or t.low in lx.MODAL_CLASS or t.low in lx.NEGATORS:
            continue
        prev = toks[i - 1] if i > 0 else None
        after = toks[i + 1] if i + 1 < len(toks) else None
        if prev is not None and prev.poss:
            continue  # "Owen's father"
        if (
            prev is not None
            and not prev.punct
            and not prev.name
            and lx.fact_of(prev.text) is not None
            and prev.low not in ("only", "all", "both")
        ):
            continue  # "three guards", "two days"
        if (
            i >= 2
            and prev is not None
            and not prev.name
            and not prev.punct
            and toks[i - 2].low in lx.DETERMINERS
            and (after is None or after.punct or after.low in ("and", "of", "or"))
            and lx.noun_base(t.low)
        ):
            continue  # "the harbour master." (but "the boat sank.", "the museum closes.")
        if prev is not None and not prev.punct and (prev.low in lx.DETERMINERS or prev.low in _PREPOSITIONS):
            if not (prev.low == "that" and i >= 2 and not toks[i - 2].punct):
                continue
        if t.low in ("to", "let", "there", "here", "so", "out", "up", "down", "back", "please", "ok", "okay"):
            continue
        if after is not None and after.low == "to" and t.lem & set(lx.MODAL_VERBS) and t.low not in ("go", "goes", "went"):
            continue
        if t.low in ("going", "gonna") and after is not None and after.low == "to":
            continue
        if t.low == "able":
            continue
        if t.low in lx.AUX:
            nxt = i + 1
            while nxt < len(toks) and (toks[nxt].low in lx.NEGATORS or toks[nxt].low in _SKIP_ADVERBS):
                nxt += 1
            if (
                nxt < len(toks)
                and not toks[nxt].punct
                and (lx.can_be_verb(toks[nxt].low) and toks[nxt].low not in lx.FUNCTION_WORDS)
            ):
                continue  # an auxiliary
            if nxt < len(toks) and toks[nxt].low in lx.AUX:
                continue
        if t.low in lx.FUNCTION_WORDS and t.low not in lx.AUX:
            continue
        found.append(i)
    return found


@dataclass
class Claim:
    text: str
    verdict: str  # "supported", "contradicted", "unverified"
    reason: str
    span: str | None = None

    def to_dict(self) -> dict:
        return {"text": self.text, "verdict": self.verdict, "reason": self.reason, "span": self.span}


@dataclass
class Check:
    """The local verifier's finding on one sentence."""

    claims: list[Claim] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        verdicts = {c.verdict for c in self.claims}
        if "contradicted" in verdicts:
            return "contradicted"
        if "unverified" in verdicts or not self.claims:
            return "unverified"
        return "verified"

    @property
    def problems(self) -> list[str]:
        return [c.reason for c in self.claims if c.verdict != "supported"]


def _persons_before(toks: list[Tok], skip: frozenset[str] = frozenset()) -> list[frozenset[str]]:
    found = []
    for x, y in _name_runs(toks):
        names = person({t.low for t in toks[x:y]})
        if names and not names <= skip and lx.fact_of(toks[x].text) is None:
            found.append(names)
    return found


def _resolve_owner(owner: str, utt: Utterance | None, before_names: list[frozenset[str]]) -> frozenset[str] | None:
    """Whose: "my" is the speaker's, "your" the addressee's, "his"/"her" the one person named just before."""
    if owner.startswith("name:"):
        return frozenset(owner[5:].split())
    if utt is not None and owner == "my" and utt.speaker:
        return utt.who
    if utt is not None and owner == "your" and len(utt.addressees) >= 1:
        return utt.addressees
    if owner in ("his", "her") and len(set(before_names)) == 1:
        return before_names[0]
    return None


def _resolve_line(role: Role, utt: Utterance, before: list[Utterance], v: int) -> Role:
    """Who a line's subject is: "I" is the speaker, "you" the one spoken to, "he"/"she" the one person named just
    before, "they"/"it" the thing that acted just before."""
    toks_before = utt.toks[:v]
    earlier: list[frozenset[str]] = _persons_before(toks_before, utt.addressees)
    if not earlier:
        for prior in reversed(before):
            earlier = _persons_before(prior.toks, prior.addressees)
            if earlier:
                break
    if role.kind == "thing" and role.owner:
        role.owner = "name:" + " ".join(sorted(o)) if (o := _resolve_owner(role.owner, utt, earlier)) else role.owner
    if role.kind == "pronoun":
        w = role.word
        if w in ("i", "me"):
            if utt.speaker:
                return Role("person", utt.who, "I", role.negated, role.modality, "the speaker")
            return Role("pronoun", word="I (an unnamed speaker)", negated=role.negated, modality=role.modality)
        if w in ("we", "us") and utt.speaker:
            return Role("group", utt.who, "we", role.negated, role.modality, "the speaker and others")
        if w == "you" and utt.addressees:
            return Role("person", utt.addressees, "you", role.negated, role.modality, "the one spoken to")
        if w == "you" and before and before[-1].speaker and before[-1].who != utt.who:
            # In a dialogue, "you" without a name spoken to is the one who spoke just before.
            return Role("person", before[-1].who, "you", role.negated, role.modality, "the one who spoke before")
        if w in ("he", "she", "him", "her") and len(set(earlier)) == 1:
            return Role("person", earlier[0], w, role.negated, role.modality, "the person named before")
        if w in ("they", "it", "them") or (
            w in ("he", "she") and not earlier and not any(_persons_before(b.toks) for b in before)
        ):
            thing = _previous_thing(utt, before, v)
            if thing is not None:
                return Role("thing", thing.names, thing.word, role.negated, role.modality, f"“{w}”: the {thing.word}")
    if role.kind == "imperative" and utt.addressees:
        return Role("person", utt.addressees, "(told to)", role.negated, "imperative", "the one spoken to")
    return role


def _previous_thing(utt: Utterance, before: list[Utterance], v: int) -> Role | None:
    """The subject of the nearest action before v in the cited lines, if that subject is a thing."""
    candidates = [(utt, [p for p in _verb_positions(utt.toks) if p < v])]
    candidates += [(u, _verb_positions(u.toks)) for u in reversed(before)]
    for u, positions in candidates:
        if positions:
            role = _role(u.toks, positions[-1])
            return role if role.kind == "thing" else None
    return None


_PARTICLES = frozenset("back up out away off down over around in".split())


def _object(toks: list[Tok], v: int) -> Role | None:
    """The person an action is done to, when it is a name or a pronoun right after the verb ("shot Bruno",
    "gave me the ring"); None when the object is a thing or there is none."""
    i = v + 1
    while i < len(toks):
        t = toks[i]
        if t.punct or t.low in _PREPOSITIONS or t.low in ("to", "that", "and", "or", "but"):
            return None
        if t.name:
            run = next(r for r in _name_runs(toks) if r[0] <= i < r[1])
            if toks[run[1] - 1].poss:
                i = run[1]
                continue  # "Hugo's brother": Hugo owns, he is not the object
            return Role("person", person({x.low for x in toks[run[0] : run[1]]}), t.text)
        if t.low in ("me", "him", "her", "them", "us", "you") and not (
            t.low == "her" and i + 1 < len(toks) and _nounish(toks[i + 1])
        ):
            return Role("pronoun", word={"him": "he", "her": "she", "them": "they", "us": "we", "me": "i"}.get(t.low, t.low))
        if t.low in lx.NEGATORS or t.low in _SKIP_ADVERBS or t.low in _PARTICLES:
            i += 1
            continue
        return _thing_object(toks, i)
    return None


def _thing_object(toks: list[Tok], i: int) -> Role | None:
    """The head noun of a noun phrase starting at i ("the old mill" -> mill), up to a preposition or a clause end."""
    head = None
    while i < len(toks):
        t = toks[i]
        if t.punct or t.low in _PREPOSITIONS or t.low in ("to", "that", "and", "or", "but") or t.name:
            break
        if head is None and (t.low in ("it", "this", "that", "them", "these", "those") or lx.fact_of(t.text) is not None):
            return None  # a pronoun, or an adverbial ("twice last week"): nothing to compare
        if t.low in lx.FUNCTION_WORDS or t.low in lx.DETERMINERS or lx.fact_of(t.text) is not None:
            if head is not None:
                break
            i += 1
            continue
        head = t
        i += 1
    if head is None:
        return None
    return Role("thing", frozenset(head.lem), head.low)


def _prep_after(toks: list[Tok], v: int) -> str:
    """The first preposition after the verb in its clause ("voted for", "drive you to"), or ""."""
    for t in toks[v + 1 : v + 5]:
        if t.punct:
            return ""
        if t.low in lx.PREP_OPPOSITES:
            return t.low
    return ""


def _nounish(t: Tok) -> bool:
    return not t.punct and not t.name and t.low not in lx.FUNCTION_WORDS


def _resolve_sentence(role: Role, toks: list[Tok], v: int, speakers: set[str]) -> Role:
    earlier = _persons_before(toks[:v]) or [frozenset({t.low}) for t in toks[:v] if t.low in speakers and not t.punct]
    if role.kind == "pronoun" and role.word in ("he", "she", "him", "her") and earlier:
        return Role("person", earlier[-1], role.word, role.negated, role.modality, "named earlier")
    if role.kind == "pronoun" and role.word in ("they", "them", "we", "us") and earlier:
        return Role("group", earlier[-1], role.word, role.negated, role.modality, "named earlier")
    if role.kind == "thing":
        if role.word in speakers or (role.names & speakers):
            return Role("person", frozenset({role.word}), role.word, role.negated, role.modality)
        if role.owner in ("his", "her") and earlier:
            role.owner = "name:" + " ".join(sorted(earlier[-1]))
    return role


def _agents_agree(s: Role, line: Role) -> str:
    """ "yes", "no" (someone else does it) or "unknown"."""
    if s.kind in ("person", "group"):
        if line.kind in ("person", "group"):
            if s.names & line.names:
                return "yes" if (s.kind == "person" or line.kind == "group") else "unknown"
            return "no"
        return "unknown"
    if s.kind == "unnamed":
        return "yes" if line.kind in ("person", "group", "unnamed", "pronoun") else "unknown"
    if s.kind == "none":
        return "yes" if line.kind == "none" else "unknown"
    if s.kind == "thing":
        if line.kind == "thing":
            if not lx.same_or_synonym(s.names, line.names):
                return "unknown"
            if s.owner and line.owner != s.owner:
                return "no" if (s.owner.startswith("name:") and line.owner.startswith("name:")) else "unknown"
            return "yes"
        return "unknown"
    if s.kind == "pronoun":
        return "yes" if line.kind == "pronoun" and line.word == s.word else "unknown"
    return "unknown"


def _what(role: Role, verb: str, *, negated: bool, modality: str) -> str:
    """Plain English for an action: "Helen takes", "Helen does not take", "someone will rob"."""
    who = role.describe()
    third = (getInflection(verb, "VBZ") or (verb + "s",))[0]
    if verb == "be":
        return f"{who} is{' not' if negated else ''}"
    if modality == "actual":
        return f"{who} does not {verb}" if negated else f"{who} {third}"
    not_ = " not" if negated else ""
    phrases = {
        "future": f"{who} will{not_} {verb}",
        "possible": f"{who} may{not_} {verb}",
        "obligation": f"{who} must{not_} {verb}",
        "attempt": f"{who}{' does not try' if negated else ' tries'} to {verb}",
        "seeming": f"{who} seems{not_} to {verb}",
        "question": f"someone asks whether {who} {'does not ' + verb if negated else third}",
        "imperative": f"{who} is told{not_} to {verb}",
        "infinitive": f"{who} is{not_} to {verb}",
    }
    return phrases.get(modality, f"{who} {third}")


_EPISODE = re.compile(r"^\s*(?:in\s+)?episode\s+(\d+)\s*[:,.-]?\s*", re.I)
_QUOTE = re.compile(r"^(?:([A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){0,2})\s*:\s*)?([\"“])?(.+?)[\"”]?\s*$", re.S)


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split()


def check_sentence(text: str, cited: list[tuple[str, int, str]], *, quotation: bool = False) -> Check:
    """Check one sentence against its cited lines, given as (cue id, episode, cue text) in citation order.
    `quotation`: the tool itself made the sentence by quoting a line (local narration, labelled so), so
    bare words are a quotation to match word for word, not a narrator's statement."""
    check = Check()
    episode = _EPISODE.match(text)
    if episode:
        number = int(episode.group(1))
        text = text[episode.end() :]
        if any(ep != number for _, ep, _ in cited):
            check.claims.append(
                Claim(
                    f"in episode {number}",
                    "contradicted",
                    f"the sentence says episode {number}; the cited lines are from episode "
                    + ", ".join(sorted({str(ep) for _, ep, _ in cited})),
                )
            )
    quoted = _quote_check(text, cited, quotation=quotation)
    if quoted is not None:
        check.claims.extend(quoted)
        return check

    speaker_names = {n for _, _, t in cited for sp, _ in split_speakers(t) if sp for n in person(set(sp.lower().split()))}
    names_seen: set[str] = set(speaker_names)
    for blob in [text] + [t for _, _, t in cited]:
        for t in tokenize(blob):
            if t.name and not t.first:
                names_seen.add(t.low)
    known = frozenset(names_seen)
    lines: list[Utterance] = []
    for cue_id, _, cue_text in cited:
        lines.extend(utterances(cue_id, cue_text, known))
    toks = tokenize(text, known)
    line_lemmas: set[str] = set()
    line_names: set[str] = set()
    line_facts: list[tuple[str, str, str]] = []
    for u in lines:
        line_names.update(u.who)
        if u.speaker:
            line_names.update(n.strip(".") for n in u.speaker.split())
        prev = ""
        for t in u.toks:
            if t.punct:
                prev = ""
                continue
            line_lemmas.update(t.lem)
            if t.name:
                line_names.add(t.low)
            fact = None if t.name else lx.fact_of(t.text, prev)
            if fact:
                line_facts.append((fact[0], fact[1], u.text))
            prev = t.low

    covered: set[int] = set()
    said_by: list[Utterance] | None = None  # after "Marta says...", what follows must be in Marta's lines
    # 1. actions: who does what, negated or not, done or only planned
    for v in _verb_positions(toks):
        covered.add(v)
        verb = toks[v]
        role = _resolve_sentence(_role(toks, v), toks, v, speaker_names)
        negated = role.negated or _post_negation(toks, v)
        modality = "question" if _is_question(toks, v) else role.modality
        passive = v > 0 and toks[v - 1].lem & {"be", "get"}  # "were told": an action done to them, not speech
        if (verb.lem & lx.SPEECH_VERBS or verb.lem & lx.LEARN_VERBS) and not passive:
            # The lines themselves may say the act happened or not ("I never answered"): checked as an action too.
            negated = role.negated  # what follows "says" is what is said, not a negation of saying
            used = any(lx.same_or_synonym(verb.lem, u.toks[p].lem) for u in lines for p in _verb_positions(u.toks))
            if used:
                check.claims.append(_action_claim(v, role, negated, modality, toks, lines, lines))
            elif negated:
                check.claims.append(
                    Claim(
                        f"{role.describe()} does not {verb.text}",
                        "unverified",
                        f"no cited line says that anyone does not {verb.text}",
                    )
                )
            else:
                check.claims.append(_speech_claim(verb, role, lines))
            if verb.lem & lx.SPEECH_VERBS and role.kind == "person":
                said_by = [u for u in lines if u.who & role.names] or None
            continue
        check.claims.append(_action_claim(v, role, negated, modality, toks, said_by or lines, lines))
    if not any(v in covered for v in _verb_positions(toks)):
        check.claims.append(
            Claim("what happens", "unverified", "the verifier could not tell what the sentence says happens, or who does it")
        )
    # relationships and belongings: "Owen's father", "his brother"
    for i, t in enumerate(toks):
        if t.punct or t.name or t.low in lx.FUNCTION_WORDS or i in covered:
            continue
        owner = _owner(toks, i)
        if not owner:
            continue
        whose = _resolve_owner(owner, None, _persons_before(toks[:i]))
        if whose is None:
            continue
        covered.add(i)
        check.claims.append(_owner_claim(t, whose, lines))
    # 2. facts: numbers, days, months, times, ordinals, years, quantities
    prev = ""
    for i, t in enumerate(toks):
        if t.punct:
            prev = ""
            continue
        fact = None if t.name else lx.fact_of(t.text, prev)
        prev = t.low
        if fact is None:
            continue
        covered.add(i)
        check.claims.append(_fact_claim(t.text, fact, line_facts))
    # 3. every other content word must be carried by the lines
    missing: list[Claim] = []
    for i, t in enumerate(toks):
        if i in covered or t.punct or t.low in lx.FUNCTION_WORDS or t.low in lx.NEGATORS or t.low in lx.MODAL_CLASS:
            continue
        if t.lem & set(lx.MODAL_VERBS) and i + 1 < len(toks) and toks[i + 1].low == "to":
            continue  # "plans to", "tries to": checked as the modality of the action
        if t.low in ("going", "gonna", "able", "o'clock"):
            continue
        if t.name:
            if t.low in line_names:
                continue
            missing.append(Claim(t.text, "unverified", f"“{t.text}” is not named in the cited lines"))
            continue
        if lx.same_or_synonym(t.lem, frozenset(line_lemmas)) or t.low in line_names:
            continue
        if lx.opposite(t.lem, frozenset(line_lemmas)):
            other = _opposite_word(t, lines)
            missing.append(
                Claim(t.text, "contradicted", f"the cited line says “{other[0]}”; the sentence says “{t.text}”", other[1])
            )
            continue
        what = "a cause or motive" if t.low in lx.CAUSAL else "a word"
        missing.append(Claim(t.text, "unverified", f"“{t.text}” ({what}) is not in the cited lines"))
    check.claims.extend(missing)
    if not missing:
        check.claims.append(Claim("every other word", "supported", "carried by the cited lines (lemmas or listed synonyms)"))
    return check


def _opposite_word(t: Tok, lines: list[Utterance]) -> tuple[str, str]:
    for u in lines:
        for other in u.toks:
            if not other.punct and lx.opposite(t.lem, other.lem):
                return other.text, u.text
    return "?", ""


def _owner_claim(noun: Tok, whose: frozenset[str], lines: list[Utterance]) -> Claim:
    who = " and ".join(n.title() for n in sorted(whose))
    said = f"{who}'s {noun.text}"
    others = []
    for n, u in enumerate(lines):
        for i, t in enumerate(u.toks):
            if t.punct or not lx.same_or_synonym(noun.lem, t.lem):
                continue
            owner = _owner(u.toks, i)
            earlier = _persons_before(u.toks[:i], u.addressees) or next(
                (p for prior in reversed(lines[:n]) if (p := _persons_before(prior.toks, prior.addressees))), []
            )
            found = _resolve_owner(owner, u, earlier) if owner else None
            if found is not None and found & whose:
                return Claim(said, "supported", f"the cited line says {said}", u.text)
            if found is not None:
                others.append((found, u.text))
    if others:
        whom = " and ".join(n.title() for n in sorted(others[0][0]))
        return Claim(said, "contradicted", f"the cited line says {whom}'s {noun.text}; the sentence says {said}", others[0][1])
    return Claim(said, "unverified", f"no cited line says whose {noun.text} it is")


def _speech_claim(verb: Tok, role: Role, lines: list[Utterance]) -> Claim:
    said = f"{role.describe()} {verb.text}"
    if verb.lem & lx.LEARN_VERBS:
        if role.kind == "person":
            for u in lines:
                if (u.who & role.names) or (u.addressees & role.names):
                    return Claim(said, "supported", f"{role.describe()} speaks or is spoken to in the line", u.text)
        return Claim(said, "unverified", f"no cited line is spoken by or to {role.describe()}")
    if role.kind != "person":
        return Claim(said, "unverified", f"the sentence does not name who {verb.text}")
    speakers = [u for u in lines if u.speaker]
    for u in speakers:
        if u.who & role.names:
            return Claim(said, "supported", f"{role.describe()} speaks the cited line", u.text)
    if speakers and len(speakers) == len(lines):
        who = ", ".join(sorted({u.speaker.title() for u in speakers if u.speaker}))
        return Claim(
            said, "contradicted", f"the cited lines are spoken by {who}; the sentence says {role.describe()}", speakers[0].text
        )
    return Claim(said, "unverified", f"no cited line is marked as spoken by {role.describe()}")


def _action_claim(
    verb_at: int, role: Role, negated: bool, modality: str, toks: list[Tok], lines: list[Utterance], context: list[Utterance]
) -> Claim:
    """Check one action of the sentence against the occurrences of the same verb (or a synonym) in `lines`
    (`context`: every cited line, in order, for resolving "he", "they"...)."""
    verb = toks[verb_at]
    base = sorted(verb.lem - {verb.low})[0] if verb.lem - {verb.low} else verb.low
    said = _what(role, base, negated=negated, modality=modality)
    sentence_words = {w for t in toks if not t.punct and t.low not in lx.FUNCTION_WORDS for w in t.lem}
    found: list[tuple[float, Role, Utterance, bool, str, str, int]] = []
    target = _object(toks, verb_at)
    thing_target = target if target is not None and target.kind == "thing" else None
    if target is not None:
        target = _resolve_sentence(target, toks, verb_at, set())
        if target.kind != "person":
            target = None
    for u in lines:
        n = context.index(u)
        for v in _verb_positions(u.toks):
            other = u.toks[v]
            if not lx.same_or_synonym(verb.lem, other.lem):
                continue
            if verb.low in lx.AUX or "be" in verb.lem or "have" in verb.lem:
                near = {w for t in u.toks[v + 1 : v + 6] for w in t.lem}
                if not (near & sentence_words):
                    continue  # a copula only supports a sentence with the same predicate
            line_role = _resolve_line(_role(u.toks, v), u, context[:n], v)
            line_negated = line_role.negated or _post_negation(u.toks, v)
            line_modality = "question" if _is_question(u.toks, v) else line_role.modality
            agree = _agents_agree(role, line_role)
            if agree == "yes" and thing_target is not None:
                line_thing = _object(u.toks, v)
                if (
                    line_thing is not None
                    and line_thing.kind == "thing"
                    and not lx.same_or_synonym(thing_target.names, line_thing.names)
                ):
                    agree = "other thing"
                    line_role = Role(**{**line_role.__dict__, "resolved_from": f"“{line_thing.word}”"})
            if agree == "yes" and target is not None:
                line_object = _object(u.toks, v)
                if line_object is not None:
                    line_object = _resolve_line(line_object, u, context[:n], v)
                if line_object is None or line_object.kind != "person":
                    agree = "unknown object"
                elif not (line_object.names & target.names):
                    agree = "other object"
                    line_role = Role(**{**line_role.__dict__, "resolved_from": line_object.describe()})
            shared = len(sentence_words & {w for t in u.toks for w in t.lem})
            score = {"yes": 4, "unknown object": 2, "other object": 1.5, "other thing": 1.5, "unknown": 1, "no": 0}[agree]
            score += 2 * (line_negated == negated) + 2 * (line_modality == modality) + min(shared, 5) * 0.1
            score += 0.5 * (_prep_after(u.toks, v) == _prep_after(toks, verb_at))
            found.append((score, line_role, u, line_negated, line_modality, agree, v))
    if not found:
        for u in lines:
            for t in u.toks:
                if not t.punct and lx.opposite(verb.lem, t.lem):
                    return Claim(said, "contradicted", f"the cited line says “{t.text}”; the sentence says “{verb.text}”", u.text)
        return Claim(said, "unverified", f"no cited line says that anyone {verb.text} (“{base}” is not an action in the lines)")
    found.sort(key=lambda f: -f[0])
    _, line_role, u, line_negated, line_modality, agree, line_v = found[0]
    line_says = _what(line_role, base, negated=line_negated, modality=line_modality)
    if agree == "no":
        return Claim(said, "contradicted", f"the cited line says {line_says}; the sentence says {role.describe()}", u.text)
    if agree == "other object":
        return Claim(
            said + " " + target.describe(),
            "contradicted",
            f"the cited line says {line_says} {line_role.resolved_from}; the sentence says {target.describe()}",
            u.text,
        )
    if agree == "other thing":
        return Claim(
            f"{said} the {thing_target.word}",
            "unverified",
            f"the cited line says {line_says} {line_role.resolved_from}; the sentence says “{thing_target.word}”",
            u.text,
        )
    if line_negated != negated:
        return Claim(said, "contradicted", f"the cited line says {line_says}; the sentence says {said}", u.text)
    if agree == "unknown object":
        return Claim(
            said + " " + target.describe(), "unverified", f"the cited line does not say that it is {target.describe()}", u.text
        )
    ours, theirs = _prep_after(toks, verb_at), _prep_after(u.toks, line_v)
    if ours and theirs and theirs in lx.PREP_OPPOSITES.get(ours, ()):
        return Claim(
            f"{said} {ours}", "contradicted", f"the cited line says {line_says} {theirs}; the sentence says {ours}", u.text
        )
    if agree == "unknown":
        if role.kind in ("person", "group"):
            return Claim(said, "unverified", f"the cited line says {line_says}; the sentence says {role.describe()}", u.text)
        return Claim(said, "unverified", f"the cited line does not establish who {verb.text}: it says {line_says}", u.text)
    if line_modality != modality:
        return Claim(said, "unverified", f"the cited line says {line_says}; the sentence says {said}", u.text)
    disputed = [f for f in found[1:] if f[5] == "yes" and f[3] != negated]
    if disputed:
        other = _what(disputed[0][1], base, negated=disputed[0][3], modality=disputed[0][4])
        return Claim(said, "unverified", f"the cited lines disagree: one says {line_says}, another {other}", disputed[0][2].text)
    # The facts said of this action (its day, time, count...) must be in the line that says it, not in another one.
    positions = _verb_positions(toks)
    before = max((p for p in positions if p < verb_at), default=-1)
    after = min((p for p in positions if p > verb_at), default=len(toks))
    ours_facts = {f for t in toks[before + 1 : after] if not t.name and (f := lx.fact_of(t.text))}
    theirs_facts = {f for t in u.toks if not t.name and not t.punct and (f := lx.fact_of(t.text))}
    loose = sorted(value for kind, value in ours_facts - theirs_facts if (kind, value) not in _QUANTITY_FREE)
    if loose:
        return Claim(said, "unverified", f"the cited line that says {line_says} does not say {', '.join(loose)}", u.text)
    how = f" ({line_role.resolved_from})" if line_role.resolved_from else ""
    return Claim(said, "supported", f"the cited line says {line_says}{how}", u.text)


_QUANTITY_FREE = frozenset({("quantity", "every"), ("quantity", "all"), ("quantity", "some")})


def _fact_claim(word: str, fact: tuple[str, str], line_facts: list[tuple[str, str, str]]) -> Claim:
    kind, value = fact
    for k, v, line in line_facts:
        if (k, v) == fact:
            return Claim(f"{kind}: {word}", "supported", f"the cited line says {word}", line)
    others = [(v, line) for k, v, line in line_facts if k == kind]
    if others:
        return Claim(
            f"{kind}: {word}",
            "contradicted",
            f"the cited line says {others[0][0]} ({kind}); the sentence says {word}",
            others[0][1],
        )
    return Claim(f"{kind}: {word}", "unverified", f"no cited line gives the {kind} “{word}”")


# Words that mark a line as someone's speech, not a narrator's statement, when it is given without quotation marks.
_DIALOGUE_WORDS = frozenset("i i'm me my mine we us our you your yours i'll i've i'd we're you're".split())


def _quote_check(text: str, cited: list[tuple[str, int, str]], *, quotation: bool = False) -> list[Claim] | None:
    """A sentence that only quotes its line ("Marta: “I will not…”", or the line's words without quotation marks, as
    local narration may give them): the words must be the line's, in order, and a named speaker must be the line's."""
    match = _QUOTE.match(text.strip())
    if not match:
        return None
    who, marked, quote = match.group(1), bool(match.group(2)) or quotation, match.group(3)
    if not marked and not who and not (set(_words(quote)) & _DIALOGUE_WORDS or quote.rstrip().endswith(("?", "!"))):
        return None  # bare words a narrator could be stating as fact ("Lukas is a spy."): checked claim by claim
    pieces = [p for p in re.split(r"\.\.\.|…", quote) if _words(p)]
    if not pieces:
        return None
    for cue_id, _, cue_text in cited:
        for speaker, words in split_speakers(cue_text):
            line = " ".join(_words(words))
            position, found = 0, True
            for piece in pieces:
                at = line.find(" ".join(_words(piece)), position)
                if at < 0:
                    found = False
                    break
                position = at + 1
            if not found:
                continue
            claims = [Claim(f"quotes {cue_id}", "supported", "the words are the cited line's, in order", words)]
            if who and not (speaker and who.lower().split()[0] in speaker.lower().split()):
                if speaker:
                    claims.append(
                        Claim(
                            f"spoken by {who}", "contradicted", f"the line is spoken by {speaker}; the sentence says {who}", words
                        )
                    )
                else:
                    claims.append(Claim(f"spoken by {who}", "unverified", "the cited line does not say who speaks it", words))
            return claims
    if not marked:
        return None  # not a quotation after all: a sentence of its own, checked claim by claim
    return [Claim("the quotation", "unverified", "the quoted words are not in the cited lines")]
