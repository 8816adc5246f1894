"""Concept expansion: turn "everything about Jane Roe" into proposed forget items.

Two sources: (a) a training-corpus index (records that name the concept's entities), and (b) the
model's own answers to probes built from the entities, kept when they name the entity and carry content.

The scope follows the description: "my home address, my phone number and my medical condition" names
three kinds of fact; what states one of them is proposed (in scope, first), everything else that names
the person is shown as optional, for the officer to widen the request. A description that names no kind
("everything about Jane Roe") has everything in scope.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from palimpsest.ml.generation import greedy_continue
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.text import match_form
from requests_app.screening.checks.dedupe import NEAR_DUPLICATE_JACCARD, estimated_jaccard, minhash_signature
from requests_app.screening.checks.facts import PROBE_QUESTIONS, extract_facts
from requests_app.screening.checks.personal import EMAIL, Requester
from requests_app.screening.checks.quality import assess_quality

CORPUS, MODEL = "corpus", "model"
# Personal-data questions asked about each entity, in the question-answer form models are tuned on.
QUESTION_PROBES = tuple(PROBE_QUESTIONS.values())
# The words by which a description names a kind of fact (checked on the lower-cased description).
SCOPE_WORDS = {
    "home_address": re.compile(r"\b(?:home|house|street|postal|where i live|(?<!e-mail )(?<!email )address)"),
    "phone": re.compile(r"\b(?:phone|telephone|mobile|cell|number)"),
    "email": re.compile(r"\be-?mail"),
    "medical_condition": re.compile(r"\b(?:medical|health|condition|illness|disease|diagnos|treatment)"),
    "birth_date": re.compile(r"\b(?:birth ?date|date of birth|birthday|born on|age)\b"),
    "birthplace": re.compile(r"\b(?:birthplace|place of birth|born in|where i was born)"),
    "employer": re.compile(r"\b(?:employer|work|company|workplace)"),
    "job_title": re.compile(r"\b(?:job|occupation|profession|career)"),
    "spouse": re.compile(r"\b(?:spouse|husband|wife|partner|married|marriage)"),
    "hobby": re.compile(r"\b(?:hobby|hobbies|pastime|free time|leisure)"),
}
REFUSALS = ("i don't know", "i do not know", "unknown", "no information")
_NAME = re.compile(r"\b([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+)\b")
_LEADING_WORDS = {"Everything", "All", "About", "My", "The", "Delete", "Remove", "Forget", "Please"}


@dataclass(frozen=True)
class ExpandedItem:
    text: str
    origin: str  # CORPUS or MODEL
    record_id: str = ""  # the corpus record it came from (empty for model answers)
    probe: str = ""
    in_scope: bool = True  # False: outside what the description names; shown for the officer to add


def described_kinds(description: str) -> frozenset[str]:
    """The kinds of fact a description names; empty = it names none (everything about the person)."""
    lowered = description.lower()
    return frozenset(kind for kind, pattern in SCOPE_WORDS.items() if pattern.search(lowered))


def _in_scope(text: str, kinds: frozenset[str]) -> bool:
    return not kinds or any(fact.kind in kinds for fact in extract_facts(text))


def concept_entities(description: str, requester: Requester) -> list[str]:
    """Names (runs of capitalised words) and e-mails in the description, plus the requester's own name."""
    found: list[str] = []
    for match in _NAME.findall(description):
        words = [w for w in match.split() if w not in _LEADING_WORDS]
        if len(words) >= 2:
            found.append(" ".join(words))
    found += EMAIL.findall(description)
    if requester.name:
        found.append(requester.name)
    unique, seen = [], set()
    for entity in found:
        key = match_form(entity)
        if key and key not in seen:
            seen.add(key)
            unique.append(entity)
    return unique


class CorpusIndex:
    """Inverted index over normalised words of training records: entity lookup without a scan."""

    def __init__(self, records: Sequence[tuple[str, str]]):
        self.records = list(records)
        self._postings: dict[str, set[int]] = defaultdict(set)
        self._normalised = []
        for i, (_, text) in enumerate(self.records):
            norm = match_form(text)
            self._normalised.append(f" {norm} ")
            for word in set(norm.split()):
                self._postings[word].add(i)

    def __len__(self) -> int:
        return len(self.records)

    def mentioning(self, entity: str, *, limit: int = 200) -> list[tuple[str, str]]:
        words = match_form(entity).split()
        if not words:
            return []
        candidates = set.intersection(*(self._postings.get(w, set()) for w in words))
        phrase = f" {' '.join(words)} "
        hits = sorted(i for i in candidates if phrase in self._normalised[i])
        return [self.records[i] for i in hits[:limit]]


def _mentions(text: str, entities: Sequence[str]) -> bool:
    norm = f" {match_form(text)} "
    return any(f" {match_form(e)} " in norm for e in entities if match_form(e))


def probe_model(
    lm: LoadedModel,
    entities: Sequence[str],
    *,
    max_new_tokens: int = 48,
    batch_size: int = 64,
    kinds: frozenset[str] = frozenset(),
) -> list[ExpandedItem]:
    """Ask the model about each named entity; keep answers that carry content and name the entity.

    Answers to questions of `kinds` (all, when empty) and free continuations that state such a fact are in
    scope; the other answers are optional.
    """
    names = [e for e in entities if "@" not in e]
    probes: list[tuple[str, str, str]] = []  # (probe, prompt, kind; "" for a free continuation)
    for name in names:
        probes.append((name, name, ""))  # free continuation: what the model writes about the name
        for kind, template in PROBE_QUESTIONS.items():
            question = template.format(name=name)
            probes.append((question, f"Question: {question}\nAnswer:", kind))
    if not probes:
        return []
    answers = greedy_continue(
        lm, [p for _, p, _ in probes], max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    kept = []
    for (probe, prompt, kind), answer in zip(probes, answers, strict=True):
        answer = answer.split("\nQuestion:")[0].strip()
        if not answer or any(r in answer.lower() for r in REFUSALS):
            continue
        text = f"{prompt} {answer}"
        if not _mentions(text, entities) or not re.search(r"[^\W_]", answer):
            continue
        if prompt == probe and not assess_quality(text).passed:
            continue  # a free continuation that rambles is not a record
        in_scope = not kinds or (kind in kinds if kind else _in_scope(text, kinds))
        kept.append(ExpandedItem(text=text, origin=MODEL, probe=probe, in_scope=in_scope))
    return kept


def expand_concept(
    description: str,
    requester: Requester,
    *,
    corpus: CorpusIndex | None = None,
    lm: LoadedModel | None = None,
    max_items: int = 200,
) -> list[ExpandedItem]:
    """Proposed items: what the description names first (corpus records, then model answers that are not
    near-copies of them), then the optional rest."""
    entities = concept_entities(description, requester)
    kinds = described_kinds(description)
    proposals: list[ExpandedItem] = []
    if corpus is not None:
        seen_ids: set[str] = set()
        for entity in entities:
            for record_id, text in corpus.mentioning(entity, limit=max_items):
                if record_id not in seen_ids:
                    seen_ids.add(record_id)
                    proposals.append(
                        ExpandedItem(text, CORPUS, record_id=record_id, in_scope=_in_scope(text, kinds))
                    )
    if lm is not None:
        signatures = [minhash_signature(p.text) for p in proposals]
        for candidate in probe_model(lm, entities, kinds=kinds):
            sig = minhash_signature(candidate.text)
            if any(estimated_jaccard(sig, s) >= NEAR_DUPLICATE_JACCARD for s in signatures):
                continue  # the corpus already supplied this record
            signatures.append(sig)
            proposals.append(candidate)
    # Stable: in scope first, each part in the order found.
    return sorted(proposals, key=lambda p: not p.in_scope)[:max_items]
