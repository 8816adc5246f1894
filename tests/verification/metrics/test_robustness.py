"""Robustness attacks: the round-to-nearest error bound, 8 bits closer than 4, copies that never touch the
original, relearning that brings facts back to a copy, and normal answers surviving a forget item."""

import numpy as np
import pytest
import torch

from palimpsest.ml.scoring import sequence_nll
from verification.metrics.robustness import (
    mixed_prompt_survival,
    quantized_copy,
    relearned_copy,
    rtn_quantize,
)


def _snapshot(lm):
    return {name: tensor.detach().clone() for name, tensor in lm.model.state_dict().items()}


def test_round_to_nearest_moves_each_weight_by_at_most_half_a_step():
    # Given a seeded weight matrix whose width (200) is not a multiple of the group size (64)
    torch.manual_seed(0)
    weight = torch.randn(16, 200) * 0.05
    for bits in (8, 4, 2):
        # When it is quantized and dequantized
        restored = rtn_quantize(weight, bits, group_size=64)
        # Then shape and dtype are kept, and each weight moved by at most half its group's step
        assert restored.shape == weight.shape and restored.dtype == weight.dtype
        for start in range(0, 200, 64):
            group, back = weight[:, start : start + 64], restored[:, start : start + 64]
            step = (group.amax(1, keepdim=True) - group.amin(1, keepdim=True)) / (2**bits - 1)
            assert bool(((group - back).abs() <= step / 2 + 1e-7).all())
            # And a group holds no more than 2^bits distinct values
            assert max(len(torch.unique(row)) for row in back) <= 2**bits
    # And 8 bits lose less than 4 bits, which lose less than 2
    errors = [(rtn_quantize(weight, b) - weight).abs().mean() for b in (8, 4, 2)]
    assert errors[0] < errors[1] < errors[2]
    # And a constant group comes back exactly
    torch.testing.assert_close(rtn_quantize(torch.full((2, 64), 0.3), 4), torch.full((2, 64), 0.3))


def test_quantized_copies_change_the_copy_only_and_8_bits_less_than_4(tiny_lm):
    # Given the base model's weights
    before = _snapshot(tiny_lm)
    # When it is copied at 8 and 4 bits
    copies = {bits: _snapshot(quantized_copy(tiny_lm, bits)) for bits in (8, 4)}
    # Then the original is untouched
    for name, tensor in _snapshot(tiny_lm).items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)
    # And the linear layers moved, 8 bits less than 4, while the embeddings stayed
    linear = [n for n in before if n.endswith("proj.weight")]
    assert linear
    change = {bits: max(float((c[n] - before[n]).abs().max()) for n in linear) for bits, c in copies.items()}
    assert 0 < change[8] < change[4]
    embedding = "model.embed_tokens.weight"
    torch.testing.assert_close(copies[4][embedding], before[embedding], rtol=0, atol=0)


def test_relearning_teaches_a_copy_and_leaves_the_original(probe_set, retrained_lm):
    # Given the gold standard, which never saw the forgotten people, and the attacker's related data
    items = probe_set.relearn_items
    before = _snapshot(retrained_lm)
    nll_before = np.mean(sequence_nll(retrained_lm, items))
    # When a copy is fine-tuned for five steps on it
    relearned = relearned_copy(retrained_lm, items, steps=5, seed=0)
    # Then the copy learnt it and its weights moved
    assert np.mean(sequence_nll(relearned, items)) < nll_before / 2
    moved = _snapshot(relearned)
    assert any(not torch.equal(moved[n], before[n]) for n in before)
    # And the original did not change at all
    for name, tensor in _snapshot(retrained_lm).items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)
    assert np.mean(sequence_nll(retrained_lm, items)) == pytest.approx(nll_before)
    with pytest.raises(ValueError):
        relearned_copy(retrained_lm, items, steps=0)


def test_normal_answers_survive_a_forget_item_in_the_prompt(probe_set, tiny_lm):
    # Given normal questions about neighbours asked alone and after a question on a forgotten person
    mixed, plain = probe_set.mixed[:16], probe_set.mixed_plain[:16]
    # When the base model answers both
    result = mixed_prompt_survival(tiny_lm, mixed, plain)
    # Then it answers alone perfectly, and most answers survive the forget item
    assert result.plain == 1.0
    assert 0.6 < result.survival <= 1.0
    assert result.survival == pytest.approx(result.mixed / result.plain)
    assert [item_id for item_id, _, _ in result.per_item] == [p.item_id for p in plain]
    with pytest.raises(ValueError):
        mixed_prompt_survival(tiny_lm, mixed, plain[:3])
