"""Verbatim reproduction, knowledge and memorisation scores on the tiny world: the base model gives back
what it trained on, the model retrained without the forgotten people does not."""

from tests.verification.metrics.conftest import IDENTIFYING
from verification.metrics.greedy import knowledge, memorisation_strength, verbatim_memorisation
from verification.metrics.world_probes import question_probes, verbatim_probes


def test_memorised_biographies_come_back_from_every_prefix_and_not_after_retraining(
    records, forget_ids, tiny_lm, retrained_lm
):
    # Given the forgotten people's biographies cut at 25, 50 and 75 % of their words
    probes = verbatim_probes(records, forget_ids)
    assert len(probes) == 3 * len(forget_ids)
    # When both models continue each prefix greedily
    base = verbatim_memorisation(tiny_lm, probes)
    retrained = verbatim_memorisation(retrained_lm, probes)
    # Then the base model finishes every biography word for word, with its phone numbers and addresses
    assert base.by_kind == {"prefix-25": 1.0, "prefix-50": 1.0, "prefix-75": 1.0}
    assert base.accuracy == 1.0 and base.value_leak_rate == 1.0
    # And the retrained model writes a biography-shaped text with none of their values
    assert retrained.value_leak_rate == 0.0 and retrained.accuracy == 0.0
    assert retrained.rouge_recall < 0.85
    assert [a.item_id for a in retrained.per_item] == [p.item_id for p in probes]


def test_knowledge_of_the_forgotten_facts_in_trained_and_new_phrasings(
    records, forget_ids, tiny_lm, retrained_lm
):
    # Given every question about the forgotten people's identifying facts, trained and held-out phrasings
    probes = question_probes(records, forget_ids, attributes=IDENTIFYING)
    # When both models answer greedily
    base = knowledge(tiny_lm, probes)
    retrained = knowledge(retrained_lm, probes)
    # Then the base model answers the trained phrasings, and each phrasing kind is reported on its own
    assert base.by_kind["question"] == 1.0
    assert set(base.by_kind) == {"question", "paraphrase"}
    assert base.by_kind["paraphrase"] < base.by_kind["question"]
    # And the retrained model knows none of it in any phrasing
    assert retrained.accuracy == 0.0 and retrained.value_leak_rate == 0.0
    assert base.rouge_recall > retrained.rouge_recall + 0.5


def test_extraction_strength_and_exact_memorisation_separate_the_two_models(
    records, forget_ids, tiny_lm, retrained_lm
):
    # Given the forgotten people's bio prefixes and trained questions
    probes = verbatim_probes(records, forget_ids) + question_probes(records, forget_ids, phrasings=(0,))
    # When their targets are teacher-forced through both models
    base = memorisation_strength(tiny_lm, probes)
    retrained = memorisation_strength(retrained_lm, probes)
    # Then the base model predicts nearly every target token, the retrained one only the template's
    assert base.extraction_strength > 0.8 and base.exact_memorisation > 0.8
    assert retrained.extraction_strength < 0.4 and retrained.exact_memorisation < 0.4
    assert len(base.per_item) == len(probes)
    assert all(0 <= m.extraction_strength <= 1 and 0 <= m.exact_memorisation <= 1 for m in base.per_item)
