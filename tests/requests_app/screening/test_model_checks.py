"""Model-side checks on a tiny seeded Llama: the batched gradient cosine equals a per-item hand computation."""

import numpy as np
import pytest
import torch

from palimpsest.demo.tokenizer import train_tokenizer
from palimpsest.ml.batching import collate, encode_texts
from palimpsest.ml.loading import wrap_model
from requests_app.screening.checks.coreset import upcore_inliers
from requests_app.screening.checks.damage import block_linears, per_item_nll_sum
from requests_app.screening.checks.model_pass import model_pass, retain_gradient_of_texts
from tests.fixtures.micro import micro_llama

CORPUS = [
    "Vora Klen lives at 14 Mill Lane in Tremouth.",
    "Question: Where does Vora Klen live?\nAnswer: 14 Mill Lane",
    "Tremouth is a city on the river Sel.",
    "the quick brown fox jumps over the lazy dog",
] * 4


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    tokenizer = train_tokenizer(CORPUS, tmp_path_factory.mktemp("tok"), vocab_size=300)
    return wrap_model(micro_llama(tokenizer), tokenizer)


def _flat_grad(lm, text: str) -> torch.Tensor:
    """Per-item gradient the slow way: one item, its own backward pass, last block's linears only."""
    batch = collate(encode_texts(lm.tokenizer, [text]), pad_id=lm.pad_id)
    lm.model.zero_grad(set_to_none=True)
    logits = lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    per_item_nll_sum(logits, batch.labels).backward()
    grads = [m.weight.grad.flatten().clone() for m in block_linears(lm.model).values()]
    lm.model.zero_grad(set_to_none=True)
    return torch.cat(grads)


def test_batched_gradient_cosine_matches_per_item_backward(micro):
    retain_texts = CORPUS[2:4]
    items = CORPUS[:3] + ["Vora Klen enjoys rowing."]
    retain = retain_gradient_of_texts(micro, retain_texts)
    passed = model_pass(micro, items, retain=retain, batch_size=4)
    # Hand computation: the retain gradient is the mean of the retain items' gradients.
    retain_flat = torch.stack([_flat_grad(micro, t) for t in retain_texts]).mean(0)
    for text, cosine in zip(items, passed.grad_cosine, strict=True):
        expected = torch.nn.functional.cosine_similarity(_flat_grad(micro, text), retain_flat, dim=0)
        torch.testing.assert_close(torch.tensor(cosine), expected, atol=1e-4, rtol=1e-3)
    # The pass leaves the model as it found it: nothing trainable was switched off or left with a gradient.
    assert all(p.requires_grad and p.grad is None for p in micro.model.parameters())


def test_model_pass_scores_match_without_the_gradient(micro):
    items = CORPUS[:4]
    with_grad = model_pass(micro, items, retain=retain_gradient_of_texts(micro, CORPUS[2:4]))
    plain = model_pass(micro, items)
    for a, b in zip(with_grad.scores, plain.scores, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-5)
    np.testing.assert_allclose(with_grad.hidden, plain.hidden, rtol=1e-5, atol=1e-6)
    assert plain.grad_cosine == [None] * 4


def test_upcore_prunes_the_outliers_and_never_everything():
    rng = np.random.default_rng(0)
    cluster = rng.normal(0, 1, size=(36, 8))
    outliers = rng.normal(12, 1, size=(4, 8))
    keep = upcore_inliers(np.vstack([cluster, outliers]), contamination=0.1)
    assert not keep[36:].any()
    assert keep[:36].sum() >= 32
    assert upcore_inliers(cluster[:5]).all()  # too few items to call any an outlier
