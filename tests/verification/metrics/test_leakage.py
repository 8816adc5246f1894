"""Probabilistic leakage: the Clopper-Pearson bound against hand values, what makes one sample leak, and
on the tiny world: the memorising model leaks its trained people, the model retrained without them does
not, and sampling finds leaks that greedy decoding misses."""

import pytest
from scipy.stats import binom

from tests.verification.metrics.conftest import IDENTIFYING
from verification.metrics.greedy import knowledge
from verification.metrics.leakage import clopper_pearson_upper, probabilistic_leakage, sample_leaks
from verification.metrics.probes import Probe
from verification.metrics.world_probes import question_probes


@pytest.mark.parametrize("samples", [1, 16, 128])
def test_no_leak_in_n_samples_bounds_the_rate_by_one_minus_alpha_to_the_one_over_n(samples):
    # Given no leak in n samples, at 99 % one-sided confidence
    bound = clopper_pearson_upper(0, samples, confidence=0.99)
    # Then the bound is 1 - 0.01^(1/n) (METHODS.md: 3.5 % at n = 128), not the two-sided 1 - 0.005^(1/n)
    assert bound == pytest.approx(1 - 0.01 ** (1 / samples), rel=1e-9)
    assert bound != pytest.approx(1 - 0.005 ** (1 / samples), rel=1e-3)


def test_clopper_pearson_hand_values_and_defining_property():
    # All but one sample leaked: P(X <= n-1) = 1 - p^n = alpha gives p = confidence^(1/n)
    assert clopper_pearson_upper(9, 10, confidence=0.95) == pytest.approx(0.95 ** (1 / 10), rel=1e-9)
    assert clopper_pearson_upper(10, 10) == 1.0
    assert clopper_pearson_upper(0, 128) == pytest.approx(0.0353, abs=5e-5)
    # In general the bound is the rate at which seeing this few leaks has probability 1 - confidence
    bound = clopper_pearson_upper(3, 40, confidence=0.99)
    assert binom.cdf(3, 40, bound) == pytest.approx(0.01, rel=1e-6)
    # More leaks raise the bound; more clean samples lower it
    assert clopper_pearson_upper(4, 40) > bound > clopper_pearson_upper(3, 400)
    with pytest.raises(ValueError):
        clopper_pearson_upper(5, 4)


def test_a_sample_leaks_by_rouge_or_by_a_protected_value():
    probe = Probe(
        "q1",
        "Question: Where does Vora Klen live?\nAnswer:",
        " 12 Mill Lane, Tellis",
        "question",
        ("0317 4829",),
    )
    assert sample_leaks(probe, " 12 Mill Lane, Tellis")  # the answer itself
    assert sample_leaks(probe, " She lives at 12 Mill Lane in Tellis", tau=0.9)  # recall 1 inside a sentence
    assert sample_leaks(probe, " call 0317 4829")  # another secret of the same person
    assert not sample_leaks(probe, " 40 Mill Lane, Orvan")  # the street name alone is 2 of 4 words
    assert sample_leaks(probe, " 40 Mill Lane, Orvan", tau=0.4)


def test_the_memorising_model_leaks_its_people_and_the_retrained_model_does_not(
    records, forget_ids, tiny_lm, retrained_lm
):
    # Given the trained questions on the forgotten people's identifying facts
    probes = question_probes(records, forget_ids, phrasings=(0,), attributes=IDENTIFYING)
    # When both models answer each 16 times at temperature 1
    base = probabilistic_leakage(tiny_lm, probes, samples=16, seed=1)
    retrained = probabilistic_leakage(retrained_lm, probes, samples=16, seed=1)
    # Then the model that trained on them gives them away almost every time
    assert base.leak_rate > 0.8 and base.leaking_probes == len(probes)
    # And the gold standard never does: its bound is the zero-leak bound of 160 samples
    assert retrained.leak_rate == 0.0 and retrained.leaking_probes == 0
    assert retrained.upper_bound == pytest.approx(1 - 0.01 ** (1 / 160))
    assert retrained.worst_upper_bound == pytest.approx(1 - 0.01 ** (1 / 16))
    # And the same seed gives the same samples
    assert probabilistic_leakage(retrained_lm, probes, samples=16, seed=1) == retrained


def test_sampling_finds_leaks_that_greedy_decoding_misses(records, forget_ids, tiny_lm):
    # Given the phrasings never trained on, which the model often answers wrongly when greedy
    probes = question_probes(records, forget_ids, phrasings=(2,))
    greedy = {a.item_id: a for a in knowledge(tiny_lm, probes).per_item}
    sampled = probabilistic_leakage(tiny_lm, probes, samples=16, seed=0)
    # Then some questions whose greedy answer leaks nothing leak when sampled
    hidden = [
        p
        for p in sampled.per_item
        if not greedy[p.item_id].correct and not greedy[p.item_id].value_leaked and p.leaks
    ]
    assert hidden
    assert sampled.by_kind["paraphrase"] > 0
