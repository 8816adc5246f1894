"""Membership inference: AUC on crafted score sets, PrivLeak's sign, and on the tiny world the forgotten
people stand out from the holdout people for the base model and not for the retrained one."""

import math

import numpy as np
import pytest

from verification.metrics.mia import ATTACKS, membership_inference, privleak, roc_auc
from verification.metrics.world_probes import membership_items


def test_auc_of_identical_distributions_is_a_half_and_of_separated_ones_one():
    # Given two seeded samples of the same normal distribution
    rng = np.random.default_rng(0)
    same = roc_auc(rng.normal(size=2000).tolist(), rng.normal(size=2000).tolist())
    # Then no score tells them apart
    assert same == pytest.approx(0.5, abs=0.03)
    # And disjoint ranges give 1 one way round and 0 the other
    high, low = (rng.normal(size=200) + 10).tolist(), rng.normal(size=200).tolist()
    assert roc_auc(high, low) == 1.0 and roc_auc(low, high) == 0.0
    # And by hand: positives [3, 1] against negatives [2, 0] win 3 of 4 pairs; ties count a half
    assert roc_auc([3, 1], [2, 0]) == 0.75
    assert roc_auc([1, 1], [1, 1]) == 0.5
    assert roc_auc([3, float("nan")], [2]) == 1.0  # an unscored item is left out
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_privleak_is_negative_while_memorised_and_positive_when_over_unlearned():
    assert privleak(1.0, 0.5) == pytest.approx(-100.0)  # the forget set still looks trained on
    assert privleak(0.5, 0.5) == 0.0 and privleak(0.62, 0.62) == 0.0  # like the reference
    assert privleak(0.0, 0.5) == pytest.approx(100.0)  # it stands out as never seen
    assert privleak(0.8, 0.6) == pytest.approx(((1 - 0.8) - 0.4) / 0.4 * 100)
    assert math.isnan(privleak(0.7, 1.0))


def test_forgotten_people_stand_out_for_the_base_model_only(records, forget_ids, tiny_lm, retrained_lm):
    # Given the forgotten people's texts and the holdout people's, built the same way
    forget = membership_items(records, forget_ids)
    holdout = membership_items(records, records.ids("holdout"))
    # When the retrained model is attacked, then the base model with the retrained AUC as reference
    reference = membership_inference(retrained_lm, forget, holdout)
    base = membership_inference(tiny_lm, forget, holdout, reference_auc=reference.auc)
    # Then every attack separates the base model's forgotten people almost perfectly
    assert set(base.auc) == set(ATTACKS)
    assert min(base.auc.values()) > 0.9
    assert base.headline_privleak < -70
    # And for the retrained model they look like people it never saw
    assert abs(reference.headline_auc - 0.5) < 0.2
    assert abs(reference.headline_privleak) < 40
    assert reference.reference_auc == dict.fromkeys(ATTACKS, 0.5)
    assert len(base.forget_scores["loss"]) == len(forget) and len(base.holdout_scores["loss"]) == len(holdout)
