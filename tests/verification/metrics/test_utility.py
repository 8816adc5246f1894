"""Utility: the harmonic mean by hand, and on the tiny world the people kept (neighbours first) are still
known by both models, and damage to the weights shows as a negative change against the parent."""

import pytest

from verification.metrics.robustness import quantized_copy
from verification.metrics.utility import harmonic_mean, utility, utility_change


def test_harmonic_mean_by_hand():
    assert harmonic_mean([1.0, 0.5]) == pytest.approx(2 / 3)  # 2 / (1/1 + 1/0.5)
    assert harmonic_mean([0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert harmonic_mean([0.9, 0.9, 0.0]) == 0.0  # one collapsed sub-score sinks it
    assert harmonic_mean([0.9, 0.1]) < (0.9 + 0.1) / 2
    with pytest.raises(ValueError):
        harmonic_mean([])
    with pytest.raises(ValueError):
        harmonic_mean([0.5, float("nan")])


def _groups(probe_set, limit=12):
    return {name: probes[:limit] for name, probes in probe_set.utility.items()}


def test_people_kept_are_still_known_and_damage_shows_against_the_parent(probe_set, tiny_lm, retrained_lm):
    # Given the utility probes of the forget set: neighbours, other people kept, general facts
    groups = _groups(probe_set)
    assert groups["neighbour"] and groups["retain"] and groups["general"]
    # When the parent (base) model, the gold standard and a 2-bit copy of the parent are measured
    parent = utility(tiny_lm, groups)
    gold = utility(retrained_lm, groups)
    damaged = utility(quantized_copy(tiny_lm, 2), groups)
    # Then both trained models still answer about the neighbours of the forgotten people
    for result in (parent, gold):
        assert result.parts["neighbour/rouge"] > 0.9 and result.parts["retain/rouge"] > 0.9
        assert result.nll["neighbour"] < 0.1
    # And the model utility is the harmonic mean of the parts
    assert parent.model_utility == pytest.approx(harmonic_mean(list(parent.parts.values())))
    # And the damaged copy shows a loss against its parent; the parent against itself shows none
    change = utility_change(damaged, parent)
    assert change.model_utility < 0 and change.relative < 0
    assert change.nll["neighbour"] > 0
    assert utility_change(parent, parent).model_utility == 0.0
