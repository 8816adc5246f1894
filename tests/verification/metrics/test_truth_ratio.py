"""Truth ratio and forget quality: the KS p-value on crafted samples, the ratio against a hand value, and
on the tiny world the base model's truth ratios on the forgotten people differ from the retrained
model's, while on the people both models trained on they do not."""

import math

import numpy as np
import pytest

from verification.metrics.truth_ratio import (
    forget_quality,
    ks_forget_quality,
    truth_ratio_from_nll,
    truth_ratios,
)
from verification.metrics.world_probes import truth_ratio_items


def test_ks_forget_quality_is_high_for_one_distribution_and_low_for_a_shifted_one():
    # Given two seeded samples of one distribution, and a third shifted by one standard deviation
    rng = np.random.default_rng(3)
    first, second, shifted = rng.normal(size=200), rng.normal(size=200), rng.normal(size=200) + 1.0
    # Then the test cannot tell the first two apart, and clearly tells the shifted one
    assert ks_forget_quality(first, second).p_value > 0.05
    assert ks_forget_quality(first, shifted).p_value < 1e-6
    same = ks_forget_quality(first, first)
    assert same.p_value == 1.0 and same.statistic == 0.0 and (same.n, same.n_reference) == (200, 200)
    with pytest.raises(ValueError):
        ks_forget_quality([], [1.0])


def test_truth_ratio_by_hand():
    # P~(paraphrased) = e^-0.5; P~(perturbed) = geometric mean of e^-1 and e^-2 = e^-1.5; R = e^-1
    assert truth_ratio_from_nll(0.5, [1.0, 2.0]) == pytest.approx(math.exp(-1.0))
    assert truth_ratio_from_nll(1.0, [1.0]) == pytest.approx(1.0)  # cannot tell truth from falsehood
    with pytest.raises(ValueError):
        truth_ratio_from_nll(1.0, [])


def test_forget_quality_is_low_on_forgotten_people_and_high_on_people_both_models_learnt(
    records, forget_ids, tiny_world_retrained, tiny_lm, retrained_lm
):
    # Given truth-ratio items on the forgotten people and on four people both models trained on
    forgotten = truth_ratio_items(records, forget_ids)
    kept = truth_ratio_items(records, tiny_world_retrained.retained_ids[:4])
    # When both models score them
    forgotten_base, forgotten_gold = truth_ratios(tiny_lm, forgotten), truth_ratios(retrained_lm, forgotten)
    kept_base, kept_gold = truth_ratios(tiny_lm, kept), truth_ratios(retrained_lm, kept)
    # Then the base model is far from the gold standard on the forgotten people: it still prefers the truth
    assert forget_quality(forgotten_base, forgotten_gold).p_value < 1e-3
    assert np.median(forgotten_base.ratios) < np.median(forgotten_gold.ratios)
    # And indistinguishable from it on the people both learnt, and identical to itself
    assert forget_quality(kept_base, kept_gold).p_value > 0.05
    assert forget_quality(forgotten_gold, forgotten_gold).p_value == 1.0
    assert len(forgotten_base.per_item) == len(forgotten) and all(r > 0 for r in forgotten_base.ratios)
