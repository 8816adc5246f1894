"""Membership evidence: LOSS, zlib and Min-K%++ calibrated against non-member text, plus prefix extraction.

Reference-free scores are weak on their own, so each score is turned into an empirical p-value against
known non-member texts of similar length (the demo world's holdout people; in production a holdout
sample the operator configures), and extraction — greedy completion of the item's first half — is
calibrated the same way.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from palimpsest.ml.generation import greedy_continue
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.membership import MembershipScores
from palimpsest.ml.text import lcs_length, words

REPRODUCES = "the model reproduces this"
LIKELY_SAW = "the model likely saw this"
NO_EVIDENCE = "no evidence"
NOT_MEASURED = "not measured"

# +1: larger = more member-like; -1: smaller = more member-like.
DIRECTIONS = {"loss": -1, "zlib_ratio": -1, "min_k_plus_plus": +1, "extraction": +1}
LIKELIHOOD_SIGNALS = ("loss", "zlib_ratio", "min_k_plus_plus")
ALPHA = 0.05
NEIGHBOURS = 60
# Extraction counts as reproduction only if most of the second half's own words come back, in order.
MIN_REPRODUCED_RECALL = 0.6
MAX_NEW_TOKENS = 48
# Extraction strength from which the second half (split at the middle word) is certainly reproduced.
TEACHER_FORCED_REPRODUCTION = 0.6
# A word found in this share of the non-member texts, or in this many of them, is template ("was born
# on", "Answer", a common first name), not content: a model that never saw a record still writes its
# template back. Counting texts, not a share alone, keeps a rare kind's template (a few bios among many
# question-answer pairs) out of the evidence too.
# Floor on a calibration set's spread when extrapolating its tail (signals are log-probability scale).
MIN_SPREAD = 0.05
TEMPLATE_SHARE = 0.02
TEMPLATE_TEXTS = 5


def tail_p_value(reference: np.ndarray, value: float, direction: int = +1) -> float:
    """Share of `reference` at least as extreme as `value` (+1 smoothing); beyond every reference value, the
    normal tail of the reference's mean and spread, so that a small calibration set can still give a p-value
    below 1 / (n + 1). Without it, 20 calibration texts could never give p <= 0.05 / 3.
    """
    ref = direction * np.asarray(reference, dtype=np.float64)
    x = direction * float(value)
    if math.isnan(x) or ref.size == 0:
        return 1.0
    as_extreme = int(np.sum(ref >= x))
    p = (1 + as_extreme) / (1 + ref.size)
    if as_extreme == 0 and ref.size >= 2:
        spread = max(float(ref.std(ddof=1)), MIN_SPREAD)
        p = min(p, 0.5 * math.erfc((x - float(ref.mean())) / spread / math.sqrt(2)))
    return float(p)


@dataclass(frozen=True)
class ItemSignals:
    loss: float
    zlib_ratio: float
    min_k_plus_plus: float
    extraction: float  # ROUGE-L recall, over non-template words, of the first half's greedy completion
    exact_match: float
    n_tokens: int

    def value(self, name: str) -> float:
        return float(getattr(self, name))


def split_for_extraction(text: str) -> tuple[str, str]:
    """Prefix = the first half of the words (at least one), target = the rest."""
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    if len(starts) < 2:
        return text, ""
    # Cut in the original string so the prefix keeps its line breaks (QA prompts depend on them).
    position = starts[len(starts) // 2]
    return text[:position].rstrip(), text[position:]


def template_words(texts: Sequence[str]) -> frozenset[str]:
    """Words in TEMPLATE_SHARE of the texts or TEMPLATE_TEXTS of them (whichever is fewer; at least 2)."""
    counts = Counter(word for text in texts for word in set(words(text)))
    floor = max(2.0, min(TEMPLATE_SHARE * len(texts), TEMPLATE_TEXTS))
    return frozenset(word for word, n in counts.items() if n >= floor)


def own_words(text: str, template: frozenset[str]) -> list[str]:
    return [w for w in words(text) if w not in template]


def distinctive_recall(completion: str, target: str, template: frozenset[str]) -> float:
    """ROUGE-L recall of the target's own words (template words left out on both sides)."""
    own = own_words(target, template)
    if not own:
        return 0.0
    return lcs_length(own_words(completion, template), own) / len(own)


def extraction_recalls(
    lm: LoadedModel,
    texts: Sequence[str],
    *,
    template: frozenset[str] = frozenset(),
    reproduced: Sequence[bool] | None = None,
    batch_size: int = 64,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> list[float]:
    """Greedy completion of each item's first half; recall of the second half's own words.

    Only words outside `template` count: record kinds share their wording, and an unseen record's
    template comes back as readily as a memorised one's. A second half with no word of its own has
    nothing to reproduce (0.0, no decoding).

    `reproduced[i]` = teacher forcing already showed that every token of the item's last 60% is the
    model's argmax (extraction strength >= 0.6), so greedy decoding from the middle writes the rest
    verbatim: recall 1.0 without generating. Long memorised records then no longer set the number of
    decoding steps for the whole batch.
    """
    splits = [split_for_extraction(t) for t in texts]
    recalls = [0.0] * len(texts)
    todo = []
    for i, (_, target) in enumerate(splits):
        if not own_words(target, template):
            continue
        if reproduced is not None and reproduced[i]:
            recalls[i] = 1.0
        else:
            todo.append(i)
    if not todo:
        return recalls
    # Each target's own length (plus two tokens of slack) bounds its continuation.
    budgets = [
        min(max_new_tokens, len(lm.tokenizer(splits[i][1], add_special_tokens=False)["input_ids"]) + 2)
        for i in todo
    ]
    completions = greedy_continue(
        lm, [splits[i][0] for i in todo], max_new_tokens=budgets, batch_size=batch_size
    )
    for i, completion in zip(todo, completions, strict=True):
        recalls[i] = distinctive_recall(completion, splits[i][1], template)
    return recalls


def reproduced_by_teacher_forcing(scores: Sequence[MembershipScores]) -> list[bool]:
    return [s.extraction_strength >= TEACHER_FORCED_REPRODUCTION for s in scores]


def item_signals(scores: Sequence[MembershipScores], extraction: Sequence[float]) -> list[ItemSignals]:
    return [
        ItemSignals(s.loss, s.zlib_ratio, s.min_k_plus_plus, float(e), s.exact_match, s.n_tokens)
        for s, e in zip(scores, extraction, strict=True)
    ]


@dataclass
class Calibration:
    """Signals of known non-member texts; an item is compared with the ones closest to it in length."""

    n_tokens: np.ndarray
    values: dict[str, np.ndarray]
    template: frozenset[str] = frozenset()  # extraction of items is measured without these words too
    neighbours: int = NEIGHBOURS

    @classmethod
    def from_signals(
        cls,
        signals: Sequence[ItemSignals],
        *,
        template: frozenset[str] = frozenset(),
        neighbours: int = NEIGHBOURS,
    ) -> Calibration:
        if len(signals) < 20:
            raise ValueError("calibration needs at least 20 non-member texts")
        clean = [s for s in signals if not math.isnan(s.loss)]
        return cls(
            n_tokens=np.array([s.n_tokens for s in clean]),
            values={name: np.array([s.value(name) for s in clean]) for name in DIRECTIONS},
            template=template,
            neighbours=neighbours,
        )

    @property
    def size(self) -> int:
        return int(self.n_tokens.size)

    def p_values(self, item: ItemSignals) -> dict[str, float]:
        """Share of length-matched non-members at least as member-like as the item (+1 smoothing; beyond
        all of them, the normal tail: see `tail_p_value`)."""
        k = min(self.neighbours, self.size)
        nearest = np.argsort(np.abs(self.n_tokens - item.n_tokens), kind="stable")[:k]
        out = {}
        for name, direction in DIRECTIONS.items():
            out[name] = tail_p_value(self.values[name][nearest], item.value(name), direction)
        return out


@dataclass(frozen=True)
class MembershipEvidence:
    label: str
    signals: ItemSignals | None = None
    p_values: dict[str, float] = field(default_factory=dict)
    explanation: str = ""

    @property
    def held(self) -> bool:
        return self.label in (REPRODUCES, LIKELY_SAW)


def judge(item: ItemSignals, calibration: Calibration, *, alpha: float = ALPHA) -> MembershipEvidence:
    p = calibration.p_values(item)
    # Bonferroni over the three likelihood scores: one of three noisy tests passing by luck is not evidence.
    likelihood_p = min(1.0, min(p[name] for name in LIKELIHOOD_SIGNALS) * len(LIKELIHOOD_SIGNALS))
    rounded = {name: round(value, 4) for name, value in p.items()}
    if item.extraction >= MIN_REPRODUCED_RECALL and p["extraction"] <= alpha:
        return MembershipEvidence(
            REPRODUCES,
            item,
            rounded,
            f"given the first half, the model writes {item.extraction:.0%} of the rest's own words (names, "
            f"numbers, details: not the wording every record of its kind shares) "
            f"(non-member texts of this length: p = {p['extraction']:.3f})",
        )
    if likelihood_p <= alpha:
        best = min(LIKELIHOOD_SIGNALS, key=lambda name: p[name])
        return MembershipEvidence(
            LIKELY_SAW,
            item,
            rounded,
            f"the model finds this text more likely than non-member texts of this length "
            f"({best}: p = {p[best]:.3f})",
        )
    return MembershipEvidence(
        NO_EVIDENCE,
        item,
        rounded,
        "the model treats this text like text it has never seen (no score stands out from non-member texts)",
    )
