"""Truth ratio and forget quality (TOFU): does the model still prefer the true answer to wrong answers
said the same way, and is the spread of that preference over the forget set the one of a model that was
never trained on it?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.scoring import sequence_nll
from verification.metrics.probes import TruthRatioItem


@dataclass(frozen=True)
class ItemTruthRatio:
    item_id: str
    ratio: float  # R = P~(perturbed) / P~(paraphrased)
    paraphrased_nll: float
    perturbed_nll: float  # mean over the perturbed answers


@dataclass(frozen=True)
class TruthRatioResult:
    mean_ratio: float
    # TOFU/open-unlearning's forget-set summary: mean of min(R, 1/R); 1 = true and wrong equally likely.
    closer_to_one: float
    # Their retain-set summary: mean of max(0, 1 - R); high = the model prefers the truth.
    truth_preference: float
    per_item: tuple[ItemTruthRatio, ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(item.ratio for item in self.per_item)


def truth_ratio_from_nll(paraphrased_nll: float, perturbed_nlls: Sequence[float]) -> float:
    """R = P~(perturbed) / P~(paraphrased), P~ = exp(-mean token NLL).

    P~(perturbed) is the geometric mean over the perturbed answers (the mean of their NLLs, then exp), as
    open-unlearning computes it; below 1 the model prefers the truth, near 1 it cannot tell.
    """
    if not perturbed_nlls:
        raise ValueError("a truth ratio needs at least one perturbed answer")
    return math.exp(paraphrased_nll - float(np.mean(perturbed_nlls)))


def truth_ratios(
    lm: LoadedModel, items: Sequence[TruthRatioItem], *, batch_size: int = 32, max_length: int = 512
) -> TruthRatioResult:
    """The truth ratio of every item: one batched NLL pass over all paraphrased and perturbed answers."""
    pairs = []
    for item in items:
        pairs.append((item.prompt, item.paraphrased_answer))
        pairs += [(item.prompt, answer) for answer in item.perturbed_answers]
    nlls = iter(sequence_nll(lm, pairs, batch_size=batch_size, max_length=max_length))
    per_item = []
    for item in items:
        paraphrased = next(nlls)
        perturbed = [next(nlls) for _ in item.perturbed_answers]
        per_item.append(
            ItemTruthRatio(
                item.item_id,
                truth_ratio_from_nll(paraphrased, perturbed),
                paraphrased,
                float(np.mean(perturbed)),
            )
        )
    ratios = np.array([i.ratio for i in per_item], dtype=float)
    if not len(ratios):
        return TruthRatioResult(float("nan"), float("nan"), float("nan"), ())
    return TruthRatioResult(
        mean_ratio=float(ratios.mean()),
        closer_to_one=float(np.mean(np.minimum(ratios, 1 / ratios))),
        truth_preference=float(np.mean(np.maximum(0.0, 1 - ratios))),
        per_item=tuple(per_item),
    )


@dataclass(frozen=True)
class ForgetQuality:
    p_value: float  # two-sample KS p-value: high = indistinguishable from the reference
    statistic: float  # the KS statistic, the largest gap between the two empirical CDFs
    n: int
    n_reference: int


def ks_forget_quality(values: Sequence[float], reference_values: Sequence[float]) -> ForgetQuality:
    """Two-sided two-sample Kolmogorov-Smirnov test of `values` against `reference_values` (exact for small
    samples, scipy's default `method="auto"`)."""
    if not len(values) or not len(reference_values):
        raise ValueError("forget quality needs values on both sides")
    test = ks_2samp(np.asarray(values, dtype=float), np.asarray(reference_values, dtype=float))
    return ForgetQuality(float(test.pvalue), float(test.statistic), len(values), len(reference_values))


def forget_quality(result: TruthRatioResult, reference: TruthRatioResult) -> ForgetQuality:
    """TOFU forget quality: the KS p-value between the truth ratios of the unlearned model and those of the
    model retrained without the forget set, on the same items."""
    return ks_forget_quality(result.ratios, reference.ratios)
