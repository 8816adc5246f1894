"""The personal facts an item states, whatever its wording: (kind, value) pairs such as ("phone", "0123 4567").

First or third person, a sentence or a question and its answer: the knowledge check (`knowledge.py`) asks
the model about each value in its own probe form, so what counts is the value, not how it was written.
Phones, e-mails, dates and addresses are found by their shape (`personal.py`); employers, jobs, conditions,
spouses, hobbies and birthplaces by the words that introduce them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from palimpsest.ml.text import match_form
from requests_app.screening.checks.personal import ADDRESS, DATE, EMAIL, PHONE

# The question asked about each kind, in the question-answer form models are tuned on (concept expansion
# asks the same questions).
PROBE_QUESTIONS = {
    "birth_date": "When was {name} born?",
    "birthplace": "Where was {name} born?",
    "home_address": "Where does {name} live?",
    "employer": "Where does {name} work?",
    "job_title": "What is the job of {name}?",
    "phone": "What is the phone number of {name}?",
    "email": "What is the e-mail address of {name}?",
    "medical_condition": "What medical condition does {name} have?",
    "spouse": "Who is the spouse of {name}?",
    "hobby": "What is the hobby of {name}?",
}
MAX_FACTS = 12
MAX_VALUE_WORDS = 8

_CAPS = r"[A-Z][\w'&-]*(?:[ \t]+(?:of[ \t]+|de[ \t]+|&[ \t]+)?[A-Z][\w'&-]*)*"
_NAME = r"[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+"
_PHRASE = r"[a-z][\w'-]*(?:[ -][a-z][\w'-]*){0,6}"
# Words that end a lower-case value phrase ("asthma for several years", "chess in my free time").
# Each whitespace run is tried from its start only ((?<!\s)): started anywhere inside a long run, the
# engine would re-walk the rest of it from every position (quadratic on a text of blanks); the leftmost match
# is at a run's start anyway, so what matches is unchanged.
_PHRASE_END = re.compile(
    r"(?<!\s)\s+(?:for|since|at|in|on|and|or|but|with|when|who|which|because|every|most)\b.*$"
)
# The words that introduce a value, by kind (first person and third person alike). The cue is matched
# in any case; the value keeps its shape (a name capitalised, a condition or hobby in lower case).
_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("birthplace", rf"(?i:\b(?:born|grew up)\b)[^.;!?\n]{{0,40}}?\bin\s+({_CAPS})"),
    ("birthplace", rf"(?i:\b(?:originally|comes?|hails?)\s+from)\s+({_CAPS})"),
    ("birthplace", rf"(?i:\b(?:birthplace|place of birth|home ?town)\s+(?:is|was|:))\s+({_CAPS})"),
    (
        "employer",
        rf"(?i:\b(?:work(?:s|ed|ing)?|employed|job)\b)[^.;!?\n]{{0,40}}?\b(?:at|for|by)\s+({_CAPS})",
    ),
    (
        "employer",
        rf"(?i:\b(?:employer|company|payroll\s+of|employs?|hired\s+by))\s+(?:is\s+|was\s+|:\s*)?({_CAPS})",
    ),
    (
        "job_title",
        rf"(?i:\b(?:work(?:s|ed|ing)?\s+as|employed\s+as|(?:job|occupation|profession)\s*(?:is|:)))"
        rf"\s+(?:an?\s+)?({_PHRASE})",
    ),
    ("job_title", rf"(?i:\b(?:I\s+am|I'm))\s+an?\s+({_PHRASE})"),
    (
        "medical_condition",
        rf"(?i:\b(?:treated\s+for|diagnosed\s+with|suffer(?:s|ing)?\s+from|liv(?:e|es|ing)\s+with"
        rf"|(?:medical\s+)?condition\s*(?:is|:)|illness\s*(?:is|:)))\s+({_PHRASE})",
    ),
    (
        "medical_condition",
        rf"\b(?:I|[Ss]he|[Hh]e|[A-Z][\w'-]+)\s+(?:have|has)"
        rf"(?!\s+(?:been|had|a|an|the|no|two|three|some|many|lived|worked)\b)\s+({_PHRASE})",
    ),
    (
        "spouse",
        rf"(?i:\b(?:married\s+to|marr(?:y|ied)|(?:spouse|husband|wife|partner)(?:\s+or\s+\w+)?\s*(?:is|:)))"
        rf"\s+({_NAME})",
    ),
    (
        "hobby",
        rf"(?i:\b(?:enjoy(?:s|ing)?|(?:hobby|pastime)\s*(?:is|:)|(?:like|love)s?))\s+({_PHRASE})",
    ),
]
_CUE_PATTERNS = [(kind, re.compile(pattern)) for kind, pattern in _CUES]
# A question's kind from its words; first match wins (e-mail before home address: "address do you write").
_QUESTION_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"e-?mail|write to", re.I)),
    ("phone", re.compile(r"phone|number|call\b|telephone", re.I)),
    (
        "birth_date",
        re.compile(
            r"\bborn\b.*\b(?:when|date|day|year)\b|\b(?:when|date|day|year)\b.*\bborn\b|birthday|date of birth",
            re.I,
        ),
    ),
    ("birthplace", re.compile(r"\bborn\b|\bbirth\b|birthplace|home ?town|\bfrom\b", re.I)),
    ("spouse", re.compile(r"spouse|marr(?:y|ied)|partner|husband|wife", re.I)),
    ("medical_condition", re.compile(r"medical|condition|illness|disease|diagnos|treated|health", re.I)),
    ("hobby", re.compile(r"hobby|pastime|free time|spare time|leisure|enjoy", re.I)),
    ("job_title", re.compile(r"\bjob\b|occupation|profession|for a living|work as", re.I)),
    ("employer", re.compile(r"employ|company|\bwork", re.I)),
    ("home_address", re.compile(r"\blive|address|reside|home", re.I)),
]
_QA = re.compile(
    # Linear on any text: blanks are never given back (*+), and the question ends on a non-blank, so no run
    # of blanks is walked more than once (with \s* and a lazy question before \s*\n it was cubic: "Question: "
    # and 2 000 blanks took 10 s). The same pairs match, except a "question" of blanks only, which is none.
    r"(?:^|\n)[^\S\n]*+(?:(?:Question|Q)\s*:\s*+(?P<q>[^\n]*?\S)|(?P<bare>[^\n]+?\?))[^\S\n]*+\n\s*"
    r"(?:Answer|A)\s*:\s*(?P<a>[^\n]+)",
    re.I,
)
# Matched right after an address (never after a blank or a comma); the lookbehind says so, so that a scan
# never starts inside a run of blanks.
_ADDRESS_TOWN = re.compile(rf"(?<![\s,])(?:,?\s+(?:in\s+)?({_CAPS}))?")
FIRST_PERSON = re.compile(r"\bI\b|\b(?:my|me|mine|myself)\b", re.IGNORECASE)
THIRD_PERSON = re.compile(r"\b(?:she|he|her|his|hers|him|they|their)\b", re.I)


@dataclass(frozen=True)
class Fact:
    kind: str
    value: str

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, match_form(self.value)


def _clean(value: str, *, phrase: bool) -> str:
    value = value.strip().rstrip(".,;:!?").strip()
    if phrase:
        value = _PHRASE_END.sub("", value)
    return " ".join(value.split()[:MAX_VALUE_WORDS])


def _shape_facts(text: str) -> list[Fact]:
    facts = [Fact("email", m.group(0).rstrip(".")) for m in EMAIL.finditer(text)]
    without_emails = EMAIL.sub(" ", text)
    facts += [Fact("phone", m.group(0).strip()) for m in PHONE.finditer(without_emails)]
    facts += [Fact("birth_date", m.group(0)) for m in DATE.finditer(text)]
    for m in ADDRESS.finditer(text):
        town = _ADDRESS_TOWN.match(text, m.end())
        value = m.group(0) + (f", {town.group(1)}" if town and town.group(1) else "")
        facts.append(Fact("home_address", value))
    return facts


def _cue_facts(text: str) -> list[Fact]:
    facts = []
    for kind, pattern in _CUE_PATTERNS:
        for m in pattern.finditer(text):
            value = _clean(m.group(1), phrase=kind in ("job_title", "medical_condition", "hobby"))
            if len(match_form(value)) >= 3:
                facts.append(Fact(kind, value))
    return facts


def question_kind(question: str) -> str | None:
    return next((kind for kind, pattern in _QUESTION_KINDS if pattern.search(question)), None)


def extract_facts(text: str) -> list[Fact]:
    """The item's personal facts, at most MAX_FACTS, each (kind, value) once; the requester's name is not one."""
    found: list[Fact] = []
    rest = text
    for m in _QA.finditer(text):
        answer = m.group("a")
        from_answer = _shape_facts(answer) + _cue_facts(answer)
        kind = question_kind(m.group("q") or m.group("bare"))
        if from_answer:
            found += from_answer
        elif kind is not None:
            found.append(Fact(kind, _clean(answer, phrase=False)))
        rest = rest.replace(m.group(0), " ")
    found += _shape_facts(rest) + _cue_facts(rest)
    unique: dict[tuple[str, str], Fact] = {}
    for fact in found:
        if fact.value and fact.key not in unique:
            unique[fact.key] = fact
    return list(unique.values())[:MAX_FACTS]


def refers_by_pronoun(text: str) -> tuple[bool, bool]:
    """(first person, third person): an item may speak of its subject without naming them."""
    return bool(FIRST_PERSON.search(text)), bool(THIRD_PERSON.search(text))


def subject_name(text: str) -> str:
    """The first run of two or more capitalised words outside a leading 'Question:' (who a record is about)."""
    body = re.sub(r"^\s*(?:Question|Q)\s*:\s*", "", text)
    for m in re.finditer(_NAME, body):
        words = [
            w for w in m.group(0).split() if w not in {"When", "Where", "What", "Who", "Which", "How", "In"}
        ]
        if len(words) >= 2:
            return " ".join(words)
    return ""


def name_pattern(name: str) -> re.Pattern[str] | None:
    words = [re.escape(w) for w in name.split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"\b", re.IGNORECASE) if words else None


def swap_name(text: str, name: str, other: str) -> tuple[str, str] | None:
    """The text with `name` replaced by `other`, cut after the first mention: (up to the name, the rest).

    Only the rest is scored, so that what is compared is what the name leads the model to expect, not how
    familiar the name itself is. None: the name is not in the text, or nothing follows it.
    """
    pattern = name_pattern(name)
    first = pattern.search(text) if pattern else None
    if first is None or not text[first.end() :].strip():
        return None
    swapped = pattern.sub(other, text[first.end() :])
    return f"{text[: first.start()]}{other}", swapped
