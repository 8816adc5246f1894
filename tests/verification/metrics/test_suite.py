"""The whole suite under a small budget, as the gate will call it: on the memorising base model every
forgetting figure fails, on the gold standard every one passes, and the figures carry slash keys."""

import math
from dataclasses import replace

import pytest

from verification.metrics.suite import Budget, run_suite, suite_utility

# Small enough for a test: a few probes per kind and a few samples each, every stage still run.
SMALL = Budget(
    samples=4,
    robustness_samples=2,
    max_probes_per_kind=4,
    max_robustness_probes=6,
    max_membership_items=24,
    max_utility_probes=6,
    max_mixed_probes=6,
    sample_tokens=24,
    relearn_steps=3,
)


@pytest.fixture(scope="module")
def parent_utility(tiny_lm, probe_set):
    return suite_utility(tiny_lm, probe_set, SMALL)


def test_the_suite_fails_the_memorising_model_and_passes_the_gold_standard(
    probe_set, tiny_lm, retrained_lm, parent_utility
):
    # When the suite runs on the base model and on the gold standard, the gold standard as reference
    base = run_suite(tiny_lm, probe_set, budget=SMALL, reference=retrained_lm, parent_utility=parent_utility)
    gold = run_suite(
        retrained_lm, probe_set, budget=SMALL, reference=retrained_lm, parent_utility=parent_utility
    )
    base_figures, gold_figures = base.figures(), gold.figures()
    # Then the base model still holds the forgotten people by every measure
    assert base_figures["verbatim/rouge_recall"] == 1.0
    assert base_figures["leakage/rate"] > 0.5
    assert base_figures["mia/privleak"] < -50
    # (4 truth-ratio items a side: 0.029 is the smallest p-value a KS test of 4 against 4 can give)
    assert base_figures["forget_quality/p_value"] < 0.05
    assert base_figures["leakage/excess_rate"] > 0.5  # far above the gold standard's floor
    assert base_figures["robustness/int4/leak_rate"] > 0.5
    # And the gold standard leaks no identifying value, looks like its own reference, keeps its utility
    assert gold.verbatim.value_leak_rate == 0.0 and gold.knowledge.value_leak_rate == 0.0
    assert gold_figures["leakage/rate"] < base_figures["leakage/rate"] / 4
    assert gold_figures["mia/privleak"] == 0.0 and gold_figures["forget_quality/p_value"] == 1.0
    assert gold_figures["utility/neighbour/rouge"] > 0.9
    # And the figures are finite numbers under slash keys, with the change against the parent
    assert base_figures["utility/change"] == 0.0
    for key in ("robustness/full/leak_rate", "robustness/int8/leak_rate", "robustness/relearned/leak_rate"):
        assert key in base_figures
    assert all("/" in key and math.isfinite(value) for key, value in gold_figures.items())
    assert set(base.seconds) == {"greedy", "leakage", "membership", "truth_ratio", "utility", "robustness"}


def test_what_a_job_does_not_provide_is_left_out_not_guessed(probe_set, retrained_lm):
    # Given a forget set with no holdout texts, no utility probes and no retrained reference
    bare = replace(probe_set, holdout_members=[], utility={}, truth_ratio=[])
    # When the suite runs
    result = run_suite(retrained_lm, bare, budget=SMALL)
    # Then the figures that need them are absent, and the others are there
    assert result.membership is None and result.utility is None and result.forget_quality is None
    assert result.reference_leakage is None and result.utility_change is None
    figures = result.figures()
    assert not any(key.startswith(("mia/", "utility/", "forget_quality/")) for key in figures)
    assert "leakage/upper_bound" in figures and "robustness/int4/leak_rate" in figures


def test_budget_refuses_what_it_cannot_run():
    with pytest.raises(ValueError):
        Budget(samples=0)
    with pytest.raises(ValueError):
        Budget(max_probes_per_kind=0)
    with pytest.raises(ValueError):
        Budget(tau=0.0)
    bounded = Budget.bounded()
    assert bounded.samples < Budget().samples and bounded.sample_tokens is not None
