"""The sentence embedder's precision: bfloat16 only where it gives float32's answers back."""

import numpy as np
import pytest

from requests_app.screening.checks import ScreeningConfig
from requests_app.screening.checks.utility import Embedder, bf16_agreement, load_embedder, utility_conflicts


def test_bfloat16_embeddings_agree_with_float32_on_the_world(world_view):
    model = load_embedder("float32").model
    texts = [t for person in world_view.members[:4] for t in person.records] + world_view.general
    exact = Embedder(model, "float32").encode(texts)
    fast = Embedder(model, "bfloat16").encode(texts)
    assert exact.shape == fast.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(exact, axis=1), 1.0, atol=1e-4)
    assert float((exact * fast).sum(axis=1).min()) > 0.999
    assert bf16_agreement(model) > 0.999
    # What it feeds: the similarity to the closest utility-critical text, and the conflict verdict on it.
    n_general = len(world_view.general)
    exact_sims = [c.max_similarity for c in utility_conflicts(exact, exact[-n_general:], texts)]
    fast_sims = [c.max_similarity for c in utility_conflicts(fast, fast[-n_general:], texts)]
    np.testing.assert_allclose(fast_sims, exact_sims, atol=2e-3)
    threshold = ScreeningConfig().utility_similarity
    assert [s >= threshold for s in fast_sims] == [s >= threshold for s in exact_sims]


def test_auto_precision_is_one_of_the_two_and_unknown_ones_are_refused():
    assert load_embedder().precision in ("float32", "bfloat16")
    assert load_embedder("float32").precision == "float32"
    with pytest.raises(ValueError, match="embedding precision"):
        load_embedder("int4")
