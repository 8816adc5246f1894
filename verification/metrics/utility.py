"""Utility: what the model must still know after unlearning, probed the way the forget set is probed.

Each group of probes (neighbours who share a value with a forgotten person, other people kept, general
facts, general questions in phrasings never trained on) gives two sub-scores in [0, 1]: the ROUGE-L
recall of greedy answers and the probability of the true answer, exp(-mean token NLL). Model utility is
their harmonic mean (TOFU), so a collapse in any one of them drags it down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.scoring import sequence_nll
from verification.metrics.greedy import GreedyResult, greedy_answers
from verification.metrics.probes import Probe


def harmonic_mean(values: Sequence[float]) -> float:
    """n / sum(1/v); 0 as soon as one value is 0 (the harmonic mean's limit), NaN values refused."""
    if not values:
        raise ValueError("the harmonic mean of nothing is undefined")
    if any(math.isnan(v) or v < 0 for v in values):
        raise ValueError("harmonic mean of non-negative numbers only")
    if any(v == 0 for v in values):
        return 0.0
    return len(values) / sum(1 / v for v in values)


@dataclass(frozen=True)
class UtilityResult:
    model_utility: float  # harmonic mean of `parts`
    parts: dict[str, float]  # "<group>/rouge" and "<group>/prob", each in [0, 1]
    nll: dict[str, float]  # mean target NLL per group (retain-set NLL and the like)
    answers: dict[str, GreedyResult]  # per group, with per-probe figures


def utility(
    lm: LoadedModel, groups: dict[str, Sequence[Probe]], *, batch_size: int = 32, max_length: int = 512
) -> UtilityResult:
    """Sub-scores per named group of probes (empty groups are skipped) and their harmonic mean."""
    parts: dict[str, float] = {}
    nll: dict[str, float] = {}
    answers: dict[str, GreedyResult] = {}
    for name, probes in groups.items():
        if not probes:
            continue
        answers[name] = greedy_answers(lm, probes, batch_size=batch_size)
        losses = [
            v
            for v in sequence_nll(
                lm, [(p.prompt, p.target) for p in probes], batch_size=batch_size, max_length=max_length
            )
            if not math.isnan(v)
        ]
        nll[name] = sum(losses) / len(losses)
        parts[f"{name}/rouge"] = answers[name].rouge_recall
        parts[f"{name}/prob"] = float(sum(math.exp(-v) for v in losses) / len(losses))
    if not parts:
        raise ValueError("utility needs at least one non-empty group of probes")
    return UtilityResult(harmonic_mean(list(parts.values())), parts, nll, answers)


@dataclass(frozen=True)
class UtilityChange:
    model_utility: float  # current - parent
    relative: float  # (current - parent) / parent; NaN when the parent's utility is 0
    parts: dict[str, float]  # current - parent per sub-score both have
    nll: dict[str, float]  # current - parent per group NLL (positive = worse)


def utility_change(current: UtilityResult, parent: UtilityResult) -> UtilityChange:
    """How much utility the new version lost (negative) or gained against the version it came from."""
    delta = current.model_utility - parent.model_utility
    return UtilityChange(
        model_utility=delta,
        relative=delta / parent.model_utility if parent.model_utility else float("nan"),
        parts={k: current.parts[k] - parent.parts[k] for k in current.parts if k in parent.parts},
        nll={k: current.nll[k] - parent.nll[k] for k in current.nll if k in parent.nll},
    )
