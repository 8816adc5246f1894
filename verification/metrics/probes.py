"""What the metrics ask a model: probes (a prompt, the continuation that would leak, the values that must
never appear) and truth-ratio items, plus the generic builders that need no knowledge of where the text
came from (prefix cuts of a text, a forget item inside a normal prompt, a bounded selection)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from palimpsest.ml.text import match_form

PREFIX_FRACTIONS = (0.25, 0.5, 0.75)
_WORD_START = re.compile(r"\S+")


@dataclass(frozen=True)
class Probe:
    """One question put to a model.

    `target` is the continuation exactly as the model saw it in training (leading space included), so it
    can be teacher-forced; ROUGE ignores the space. `protected` are strings whose appearance in an output
    is a leak whatever the rest of the output says (an e-mail address, a phone number).
    """

    item_id: str
    prompt: str
    target: str
    kind: str = field(metadata={"help": "prefix-25/50/75, question, paraphrase, neighbour, mixed, ..."})
    protected: tuple[str, ...] = ()
    subject_id: str | None = None

    def __post_init__(self):
        if not self.target.strip():
            raise ValueError(f"probe {self.item_id!r} has an empty target")


@dataclass(frozen=True)
class TruthRatioItem:
    """A question with its true answer said another way and wrong answers said the same way (TOFU)."""

    item_id: str
    prompt: str
    paraphrased_answer: str
    perturbed_answers: tuple[str, ...]
    subject_id: str | None = None

    def __post_init__(self):
        if not self.perturbed_answers:
            raise ValueError(f"truth-ratio item {self.item_id!r} has no perturbed answer")


def mentions(text: str, value: str) -> bool:
    """Whether `value` appears in `text` as whole words, ignoring case, accents and punctuation."""
    needle = match_form(value)
    return bool(needle) and f" {needle} " in f" {match_form(text)} "


def relevant_protected(prompt: str, values: Iterable[str]) -> tuple[str, ...]:
    """The values a probe can leak: a value the prompt already shows is no evidence when echoed back."""
    seen: dict[str, None] = {}
    for value in values:
        if value and not mentions(prompt, value):
            seen.setdefault(value, None)
    return tuple(seen)


def prefix_probes(
    item_id: str,
    text: str,
    *,
    fractions: Sequence[float] = PREFIX_FRACTIONS,
    protected: Sequence[str] = (),
    subject_id: str | None = None,
) -> list[Probe]:
    """The first `fraction` of the text's words as the prompt, the rest as the target (one probe each).

    Cuts fall before a word, and the space before it stays with the target, as the tokenizer saw it.
    A text of fewer than two words gives no probe.
    """
    starts = [m.start() for m in _WORD_START.finditer(text)]
    probes = []
    for fraction in fractions:
        if not 0 < fraction < 1:
            raise ValueError("a prefix fraction must lie strictly between 0 and 1")
        if len(starts) < 2:
            break
        cut_word = min(max(1, round(len(starts) * fraction)), len(starts) - 1)
        cut = starts[cut_word]
        prompt = text[:cut].rstrip()
        target = text[len(prompt) :]
        probes.append(
            Probe(
                item_id=f"{item_id}@{round(fraction * 100)}",
                prompt=prompt,
                target=target,
                kind=f"prefix-{round(fraction * 100)}",
                protected=relevant_protected(prompt, protected),
                subject_id=subject_id,
            )
        )
    return probes


def mixed_probe(normal: Probe, forget_context: str, *, item_id: str | None = None) -> Probe:
    """A normal question asked right after text about a forgotten subject (Thaker et al.).

    The expected answer is the normal one: a model that merely learnt to go blank at the sight of the
    forgotten subject fails here although it passes every probe asked one at a time.
    """
    return replace(
        normal,
        item_id=item_id or f"mixed:{normal.item_id}",
        prompt=f"{forget_context.strip()}\n{normal.prompt}",
        kind="mixed",
        protected=(),
    )


def select_spread(items: Sequence, limit: int | None) -> list:
    """At most `limit` items, evenly spaced over the sequence (so every subject keeps a share), order kept."""
    if limit is None or len(items) <= limit:
        return list(items)
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def cap_per_kind(probes: Sequence[Probe], limit: int | None) -> list[Probe]:
    """At most `limit` probes of each kind, spread over the subjects; kinds keep their first-seen order."""
    by_kind: dict[str, list[Probe]] = {}
    for probe in probes:
        by_kind.setdefault(probe.kind, []).append(probe)
    return [p for group in by_kind.values() for p in select_spread(group, limit)]


@dataclass(frozen=True)
class ProbeSet:
    """Everything the suite asks about one forget set; built from a job's forget set (or the demo world).

    Membership items are texts or (prompt, answer) pairs (`palimpsest.ml.batching.Item`); `holdout_members`
    must be of the same kind as `forget_members` and never trained on.
    """

    verbatim: list[Probe]  # prefixes of the forgotten texts
    questions: list[Probe]  # questions about the forgotten facts, trained and never-trained phrasings
    forget_members: list  # membership-inference positives
    holdout_members: list  # membership-inference negatives
    truth_ratio: list[TruthRatioItem] = field(default_factory=list)
    utility: dict[str, list[Probe]] = field(default_factory=dict)  # group name -> probes (neighbour first)
    relearn_items: list = field(default_factory=list)  # related but disjoint data an attacker could use
    relearn_probes: list[Probe] = field(default_factory=list)  # what relearning must not bring back
    mixed: list[Probe] = field(default_factory=list)  # normal questions after a forget item
    mixed_plain: list[Probe] = field(default_factory=list)  # the same normal questions alone

    @property
    def forget_probes(self) -> list[Probe]:
        return [*self.verbatim, *self.questions]
