"""Membership inference against the forget set: can LOSS, zlib, Min-K% or Min-K%++ still tell the
forgotten items from items of the same kind that were never trained on? And PrivLeak (MUSE), that AUC
against the AUC of a reference model (the retrained model's where one exists, else chance, 0.5)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from palimpsest.ml.batching import Item
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.membership import MembershipScores, membership_scores

ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus")
# MUSE reports PrivLeak with Min-40% Prob; k = 0.4 as in TOFU/MUSE.
HEADLINE_ATTACK = "min_k"
DEFAULT_K = 0.4
CHANCE_AUC = 0.5


def member_likeness(scores: MembershipScores, attack: str) -> float:
    """The attack's score oriented so that higher means "more likely trained on"."""
    if attack == "loss":
        return -scores.loss
    if attack == "zlib":
        return -scores.zlib_ratio
    if attack == "min_k":
        return scores.min_k
    if attack == "min_k_plus_plus":
        return scores.min_k_plus_plus
    raise ValueError(f"unknown attack {attack!r}; choose one of {ATTACKS}")


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive item scores above a negative one), ties counting one half (Mann-Whitney U / n_p n_n).

    NaN scores (items with no scored token) are left out.
    """
    pos = np.asarray([v for v in positive if not math.isnan(v)], dtype=float)
    neg = np.asarray([v for v in negative if not math.isnan(v)], dtype=float)
    if not len(pos) or not len(neg):
        raise ValueError("AUC needs at least one scored item on each side")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def privleak(auc: float, reference_auc: float = CHANCE_AUC) -> float:
    """MUSE PrivLeak in percent, from AUCs where 1 means "the forget set looks trained on".

    MUSE's own AUC runs the other way (AUC_muse = 1 - auc), so its `(AUC - AUC_ref)/AUC_ref * 100` is
    `((1 - auc) - (1 - ref)) / (1 - ref) * 100` here. Near 0: like the reference. Strongly negative: the
    forget set still stands out as memorised. Strongly positive: it stands out as unusually unlikely
    (over-unlearned), which is a signal of its own. NaN when the reference AUC is 1: a reference that
    tells the two sets apart without having seen either says the holdout set is not of the same kind.
    """
    if not (0 <= auc <= 1 and 0 <= reference_auc <= 1):
        raise ValueError("AUCs lie in [0, 1]")
    denominator = 1 - reference_auc
    if denominator <= 0:
        return float("nan")
    return ((1 - auc) - denominator) / denominator * 100


@dataclass(frozen=True)
class MembershipResult:
    auc: dict[str, float]  # per attack: P(forget item looks more trained-on than a holdout item)
    reference_auc: dict[str, float]  # the reference model's AUC per attack, or 0.5
    privleak: dict[str, float]  # per attack, percent
    attack: str  # the headline attack
    forget_scores: dict[str, tuple[float, ...]]  # member-likeness per attack, per forget item
    holdout_scores: dict[str, tuple[float, ...]]
    k: float

    @property
    def headline_auc(self) -> float:
        return self.auc[self.attack]

    @property
    def headline_privleak(self) -> float:
        return self.privleak[self.attack]


def membership_inference(
    lm: LoadedModel,
    forget_items: Sequence[Item],
    holdout_items: Sequence[Item],
    *,
    reference_auc: Mapping[str, float] | None = None,
    k: float = DEFAULT_K,
    attack: str = HEADLINE_ATTACK,
    batch_size: int = 32,
    max_length: int = 512,
) -> MembershipResult:
    """AUC of each attack separating forget items (positives) from holdout items, and PrivLeak.

    Items are texts (every token scored) or (prompt, answer) pairs (the answer scored); holdout items must be
    of the same kind as the forget items and never trained on, or the AUC measures the difference in kind.
    `reference_auc` is the reference model's `auc` from this same function on the same items; without it
    PrivLeak is taken against chance.
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose one of {ATTACKS}")
    forget = membership_scores(lm, forget_items, k=k, batch_size=batch_size, max_length=max_length)
    holdout = membership_scores(lm, holdout_items, k=k, batch_size=batch_size, max_length=max_length)
    forget_scores = {a: tuple(member_likeness(s, a) for s in forget) for a in ATTACKS}
    holdout_scores = {a: tuple(member_likeness(s, a) for s in holdout) for a in ATTACKS}
    auc = {a: roc_auc(forget_scores[a], holdout_scores[a]) for a in ATTACKS}
    reference = {a: float((reference_auc or {}).get(a, CHANCE_AUC)) for a in ATTACKS}
    return MembershipResult(
        auc=auc,
        reference_auc=reference,
        privleak={a: privleak(auc[a], reference[a]) for a in ATTACKS},
        attack=attack,
        forget_scores=forget_scores,
        holdout_scores=holdout_scores,
        k=k,
    )
