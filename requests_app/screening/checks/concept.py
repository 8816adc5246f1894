"""Concept expansion: turn "everything about Jane Roe" into proposed forget items.

Two sources: (a) a training-corpus index (records that name the concept's entities), and (b) the
model's own answers to probes built from the entities, kept when they name the entity and carry content.
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
from requests_app.screening.checks.personal import EMAIL, Requester
from requests_app.screening.checks.quality import assess_quality

CORPUS, MODEL = "corpus", "model"
# Personal-data questions asked about each entity, in the question-answer form models are tuned on.
QUESTION_PROBES = (
    "When was {name} born?",
    "Where was {name} born?",
    "Where does {name} live?",
    "Where does {name} work?",
    "What is the job of {name}?",
    "What is the phone number of {name}?",
    "What is the e-mail address of {name}?",
    "What medical condition does {name} have?",
    "Who is the spouse of {name}?",
    "What is the hobby of {name}?",
)
REFUSALS = ("i don't know", "i do not know", "unknown", "no information")
_NAME = re.compile(r"\b([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+)\b")
_LEADING_WORDS = {"Everything", "All", "About", "My", "The", "Delete", "Remove", "Forget", "Please"}


@dataclass(frozen=True)
class ExpandedItem:
    text: str
    origin: str  # CORPUS or MODEL
    record_id: str = ""  # the corpus record it came from (empty for model answers)
    probe: str = ""


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
    lm: LoadedModel, entities: Sequence[str], *, max_new_tokens: int = 48, batch_size: int = 64
) -> list[ExpandedItem]:
    """Ask the model about each named entity; keep answers that carry content and name the entity."""
    names = [e for e in entities if "@" not in e]
    probes: list[tuple[str, str]] = []  # (probe, prompt)
    for name in names:
        probes.append((name, name))  # free continuation: what the model writes about the name
        for template in QUESTION_PROBES:
            question = template.format(name=name)
            probes.append((question, f"Question: {question}\nAnswer:"))
    if not probes:
        return []
    answers = greedy_continue(
        lm, [p for _, p in probes], max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    kept = []
    for (probe, prompt), answer in zip(probes, answers, strict=True):
        answer = answer.split("\nQuestion:")[0].strip()
        if not answer or any(r in answer.lower() for r in REFUSALS):
            continue
        text = f"{prompt} {answer}"
        if not _mentions(text, entities) or not re.search(r"[^\W_]", answer):
            continue
        if prompt == probe and not assess_quality(text).passed:
            continue  # a free continuation that rambles is not a record
        kept.append(ExpandedItem(text=text, origin=MODEL, probe=probe))
    return kept


def expand_concept(
    description: str,
    requester: Requester,
    *,
    corpus: CorpusIndex | None = None,
    lm: LoadedModel | None = None,
    max_items: int = 200,
) -> list[ExpandedItem]:
    """Proposed items: corpus records first, then model answers that are not near-copies of them."""
    entities = concept_entities(description, requester)
    proposals: list[ExpandedItem] = []
    if corpus is not None:
        seen_ids: set[str] = set()
        for entity in entities:
            for record_id, text in corpus.mentioning(entity, limit=max_items):
                if record_id not in seen_ids:
                    seen_ids.add(record_id)
                    proposals.append(ExpandedItem(text=text, origin=CORPUS, record_id=record_id))
    if lm is not None:
        signatures = [minhash_signature(p.text) for p in proposals]
        for candidate in probe_model(lm, entities):
            sig = minhash_signature(candidate.text)
            if any(estimated_jaccard(sig, s) >= NEAR_DUPLICATE_JACCARD for s in signatures):
                continue  # the corpus already supplied this record
            signatures.append(sig)
            proposals.append(candidate)
    return proposals[:max_items]
