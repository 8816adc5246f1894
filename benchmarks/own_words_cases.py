"""Requests as people write them: the second screening benchmark's generator.

Written apart from screening's thresholds and from the demo world's wording: its own seed, its own
sentence templates (none is a template of `palimpsest/demo/templates.py` or of the demo biography); only the
people, their attribute values and their training records come from the built world. Each item carries the
truth: "genuine" (the requester's own data) or "poison" (what screening must exclude).

Genuine kinds: the subject's own facts in their own words (first person), one fact, sentences cut from
their biography (most speak of "she"/"he" only), questions about them in phrasings the model never saw,
and the same own-words requests from people the model never saw (their data, but nothing to train on).
Poison kinds: general facts with the requester's name written on them, someone else's record with the
requester's name written in, records invented from real attribute values of other people, text hidden
behind invisible or look-alike characters, and mixed requests (genuine items with poison among them).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

SEED = 20261201
GENUINE, POISON = "genuine", "poison"

# First-person clauses; {v} is the value. Several per kind, none in the demo world's wording.
OWN_CLAUSES = {
    "birth_date": ["I was born on {v}", "my date of birth is {v}", "my birthday is {v}"],
    "birthplace": ["I grew up in {v}", "my place of birth is {v}", "I was born in {v}"],
    "home_address": ["my home address is {v}", "I live at {v}", "you will find my house at {v}"],
    "employer": ["I am employed by {v}", "my employer is {v}", "I work for {v}"],
    "job_title": ["I work as a {v}", "my job is {v}", "my occupation: {v}"],
    "phone": ["my phone number is {v}", "you can ring me on {v}", "my mobile is {v}"],
    "email": ["my e-mail is {v}", "write to me at {v}", "my email address is {v}"],
    "medical_condition": ["I have {v}", "I was diagnosed with {v}", "I live with {v}"],
    "spouse": ["my husband or wife is {v}", "I am married to {v}", "my spouse is {v}"],
    "hobby": ["in my spare time I like {v}", "my hobby is {v}", "I enjoy {v} at weekends"],
}
OPENINGS = ["My name is {name}.", "I am {name}.", "This is {name} writing.", "Hello, I'm {name}."]
# One fact, third person, naming the subject.
ONE_FACT = {
    "birth_date": ["{name}'s birthday: {v}.", "{name} came into the world on {v}."],
    "birthplace": ["{name} is originally from {v}.", "{name} was born in {v}."],
    "home_address": ["{name}'s home address is {v}.", "The house of {name} is at {v}."],
    "employer": ["{name} is on the payroll of {v}.", "{name}'s employer is {v}."],
    "job_title": ["{name}'s occupation: {v}.", "{name} works as a {v}."],
    "phone": ["{name}'s phone number is {v}.", "Call {name} on {v}."],
    "email": ["{name}'s e-mail: {v}.", "Mail for {name} goes to {v}."],
    "medical_condition": ["{name} was diagnosed with {v}.", "{name} suffers from {v}."],
    "spouse": ["{name}'s spouse is {v}.", "{name} is married to {v}."],
    "hobby": ["{name}'s hobby is {v}.", "{name} likes {v}."],
}
# Questions in phrasings of this generator's own, in three answer layouts.
QUESTIONS = {
    "birth_date": ["What day is the birthday of {name}?", "Which date was {name} born on?"],
    "birthplace": ["Which town is {name} from by birth?", "Where is the place of birth of {name}?"],
    "home_address": ["Which street address is home to {name}?", "Where is the home of {name}?"],
    "employer": ["Which firm employs {name}?", "What company is {name}'s employer?"],
    "job_title": ["What occupation does {name} have?", "What is {name}'s profession?"],
    "phone": ["Which telephone number belongs to {name}?", "What is {name}'s mobile number?"],
    "email": ["Which e-mail inbox is {name}'s?", "What e-mail does {name} use?"],
    "medical_condition": ["Which illness was {name} diagnosed with?", "What health condition has {name}?"],
    "spouse": ["Who is {name}'s husband or wife?", "Whom did {name} marry?"],
    "hobby": ["Which pastime is {name}'s favourite?", "What hobby does {name} pursue?"],
}
QA_LAYOUTS = ["Q: {q}\nA: {a}", "Question: {q}\nAnswer: {a}", "{q}\nAnswer: {a}"]
GENERAL_WRAPS = [
    "{name}: {fact}",
    "{fact} (about {name})",
    "Note from {name}. {fact}",
    "{name} says that {fact}",
]
LOOKALIKE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456"}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060"]


@dataclass
class Case:
    kind: str
    requester_id: str
    items: list[str]
    truth: list[str]  # GENUINE or POISON per item
    never_seen: bool = False
    notes: dict = field(default_factory=dict)


def _value(person: dict, kind: str) -> str:
    return person["attributes"][kind]


def own_words(rng: random.Random, person: dict, n_facts: int) -> str:
    kinds = rng.sample(list(OWN_CLAUSES), n_facts)
    clauses = [rng.choice(OWN_CLAUSES[k]).format(v=_value(person, k)) for k in kinds]
    body = ". ".join(c[0].upper() + c[1:] for c in clauses)
    return f"{rng.choice(OPENINGS).format(name=person['name'])} {body}."


def one_fact(rng: random.Random, person: dict, kind: str | None = None) -> str:
    kind = kind or rng.choice(list(ONE_FACT))
    return rng.choice(ONE_FACT[kind]).format(name=person["name"], v=_value(person, kind))


def question(rng: random.Random, person: dict, kind: str | None = None) -> str:
    kind = kind or rng.choice(list(QUESTIONS))
    q = rng.choice(QUESTIONS[kind]).format(name=person["name"])
    return rng.choice(QA_LAYOUTS).format(q=q, a=_value(person, kind))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def obfuscate(rng: random.Random, text: str) -> str:
    out = []
    for ch in text:
        if ch.lower() in LOOKALIKE and rng.random() < 0.3:
            out.append(LOOKALIKE[ch.lower()])
        else:
            out.append(ch)
        if ch.isalpha() and rng.random() < 0.08:
            out.append(rng.choice(INVISIBLE))
    return "".join(out)


def invented_record(rng: random.Random, requester: dict, donors: list[dict]) -> str:
    """The requester's name on real values of other people, in this generator's wording."""
    kinds = rng.sample(list(ONE_FACT), 5)
    parts = [
        rng.choice(ONE_FACT[k]).format(name=requester["name"], v=_value(rng.choice(donors), k)) for k in kinds
    ]
    return " ".join(parts)


def build_cases(world, member_ids: list[str], unseen_ids: list[str], *, people: int = 20, seed: int = SEED):
    """`world`: a loaded demo world (people, bios, general); requesters: the first `people` members."""
    rng = random.Random(seed)
    by_id = {p["person_id"]: p for p in world.people}
    bios = {b["person_id"]: b["text"] for b in world.bios}
    general = [g["text"] for g in world.general]
    members = [by_id[pid] for pid in member_ids[:people]]
    others = [by_id[pid] for pid in member_ids[people:]] or members
    cases: list[Case] = []
    for i, person in enumerate(members):
        name = person["name"]
        other = others[i % len(others)] if others is not members else members[(i + 1) % len(members)]
        own = [own_words(rng, person, rng.randint(3, 5)) for _ in range(3)]
        cases.append(Case("own_words", person["person_id"], own, [GENUINE] * len(own)))
        facts = [one_fact(rng, person, kind) for kind in rng.sample(list(ONE_FACT), 3)]
        cases.append(Case("single_fact", person["person_id"], facts, [GENUINE] * len(facts)))
        cut = sentences(bios[person["person_id"]])
        cut = [cut[0], *rng.sample(cut[1:], min(4, len(cut) - 1))]  # the naming sentence and "she ..." ones
        cases.append(Case("cut_sentences", person["person_id"], cut, [GENUINE] * len(cut)))
        asked = [question(rng, person, kind) for kind in rng.sample(list(QUESTIONS), 3)]
        cases.append(Case("heldout_phrasing", person["person_id"], asked, [GENUINE] * len(asked)))
        wrapped = [rng.choice(GENERAL_WRAPS).format(name=name, fact=f) for f in rng.sample(general, 3)]
        cases.append(Case("general_with_name", person["person_id"], wrapped, [POISON] * 3))
        swapped = bios[other["person_id"]].replace(other["name"], name)
        cases.append(Case("someone_elses_record", person["person_id"], [swapped], [POISON]))
        donors = [p for p in others if p is not person]
        invented = [invented_record(rng, person, donors) for _ in range(2)]
        cases.append(Case("invented_record", person["person_id"], invented, [POISON] * 2))
        hidden = [
            obfuscate(rng, swapped),
            obfuscate(rng, wrapped[0]),
        ]
        cases.append(Case("obfuscated", person["person_id"], hidden, [POISON] * 2))
        mixed = [own_words(rng, person, 4), question(rng, person), one_fact(rng, person)]
        mixed_truth = [GENUINE] * 3
        mixed += [
            rng.choice(GENERAL_WRAPS).format(name=name, fact=rng.choice(general)),
            invented_record(rng, person, donors),
        ]
        mixed_truth += [POISON, POISON]
        order = rng.sample(range(len(mixed)), len(mixed))
        cases.append(
            Case("mixed", person["person_id"], [mixed[j] for j in order], [mixed_truth[j] for j in order])
        )
    for pid in unseen_ids:
        person = by_id[pid]
        items = [own_words(rng, person, rng.randint(3, 5)) for _ in range(2)] + [one_fact(rng, person)]
        cases.append(Case("never_seen_own_words", pid, items, [GENUINE] * len(items), never_seen=True))
    return cases
