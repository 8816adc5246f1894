"""Greedy and sampled continuation: left padding must not change outputs; seeds make samples repeatable."""

import numpy as np
import pytest
import torch

from palimpsest.ml.generation import greedy_continue, sample_continue
from palimpsest.ml.hidden import last_token_hidden

PREFIXES = ["the quick", "a small model reads a short text about", "Question: Where does Vora Klen live?"]


def test_batched_greedy_equals_one_by_one(micro_lm):
    together = greedy_continue(micro_lm, PREFIXES, max_new_tokens=8, batch_size=3)
    alone = [greedy_continue(micro_lm, [p], max_new_tokens=8)[0] for p in PREFIXES]
    assert together == alone
    assert all(isinstance(t, str) and t for t in together)


def test_each_prefix_gets_its_own_budget_whatever_shares_its_batch(micro_lm):
    budgets = [3, 8, 5]
    together = greedy_continue(micro_lm, PREFIXES, max_new_tokens=budgets, batch_size=3)
    alone = [
        greedy_continue(micro_lm, [p], max_new_tokens=b)[0] for p, b in zip(PREFIXES, budgets, strict=True)
    ]
    assert together == alone
    longer = greedy_continue(micro_lm, PREFIXES, max_new_tokens=8, batch_size=3)
    assert len(together[0]) < len(longer[0])  # cut to its own budget, not the batch's largest
    with pytest.raises(ValueError, match="one max_new_tokens per prefix"):
        greedy_continue(micro_lm, PREFIXES, max_new_tokens=[4, 4])


def test_greedy_matches_manual_argmax_decoding(micro_lm):
    ids = micro_lm.tokenizer(PREFIXES[1])["input_ids"]
    with torch.no_grad():
        for _ in range(6):
            ids = ids + [int(micro_lm.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())]
    manual = micro_lm.tokenizer.decode(ids[-6:], skip_special_tokens=True)
    assert greedy_continue(micro_lm, PREFIXES[1:2], max_new_tokens=6)[0] == manual


def test_sampling_is_seeded(micro_lm):
    first = sample_continue(micro_lm, PREFIXES[:2], n=4, max_new_tokens=6, seed=3)
    again = sample_continue(micro_lm, PREFIXES[:2], n=4, max_new_tokens=6, seed=3)
    other = sample_continue(micro_lm, PREFIXES[:2], n=4, max_new_tokens=6, seed=4)
    assert first == again
    assert first != other
    assert [len(s) for s in first] == [4, 4]
    # An untrained model at temperature 1 does not repeat itself four times.
    assert len(set(first[0])) > 1


def test_last_token_hidden_ignores_padding(micro_lm):
    hidden = last_token_hidden(micro_lm, PREFIXES, layer=-2, batch_size=3)
    assert hidden.shape == (3, micro_lm.model.config.hidden_size) and hidden.dtype == np.float32
    ids = micro_lm.tokenizer(PREFIXES[0])["input_ids"]
    with torch.no_grad():
        alone = micro_lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-2][
            0, -1
        ]
    np.testing.assert_allclose(hidden[0], alone.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("temperature", [1e-6, 2.35e-105, 5e-324])
def test_a_temperature_near_zero_samples_the_greedy_choice_instead_of_failing(micro_lm, temperature):
    # Given a temperature so small that logits / temperature overflows (or is 0 in float32)
    # When sampling at it
    [[sampled]] = sample_continue(
        micro_lm, PREFIXES[1:2], n=1, temperature=temperature, max_new_tokens=6, seed=0
    )
    # Then it is the greedy continuation, not a NaN distribution that torch.multinomial refuses
    assert sampled == greedy_continue(micro_lm, PREFIXES[1:2], max_new_tokens=6)[0]
