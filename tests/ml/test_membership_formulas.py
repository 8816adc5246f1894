"""Membership scores against hand computations on fixed tensors."""

import math
import zlib

import pytest
import torch

from palimpsest.ml.membership import (
    exact_memorization,
    extraction_strength,
    min_k_plus_plus,
    min_k_prob,
    scores_from_stats,
    zlib_ratio,
)
from palimpsest.ml.scoring import stats_from_logits


def _fixed_stats():
    logits = torch.tensor(
        [
            [2.0, 0.0, -1.0, 0.5],
            [0.1, 0.2, 3.0, -2.0],
            [1.0, 1.0, 1.0, 1.0],
            [-1.0, 4.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 1.0],
        ]
    )
    targets = torch.tensor([0, 2, 3, 0, 1])
    return logits, targets, stats_from_logits(logits, targets)


def test_min_k_plus_plus_matches_hand_computation():
    # Given fixed logits and targets
    logits, targets, stats = _fixed_stats()
    # When z-scores are computed by hand from the softmax, one position at a time
    z = []
    for row, target in zip(logits.tolist(), targets.tolist(), strict=True):
        norm = math.log(sum(math.exp(v) for v in row))
        logp = [v - norm for v in row]
        p = [math.exp(v) for v in logp]
        mu = sum(pi * li for pi, li in zip(p, logp, strict=True))
        var = max(sum(pi * li * li for pi, li in zip(p, logp, strict=True)) - mu * mu, 1e-6)
        z.append((logp[target] - mu) / math.sqrt(var))
    # Then Min-K%++ is the mean of the lowest k share of them (k=0.4 of 5 tokens -> 2 tokens)
    expected = sum(sorted(z)[:2]) / 2
    assert min_k_plus_plus(stats, k=0.4) == pytest.approx(expected, rel=1e-5)
    # And the uniform row (zero variance) is clamped, not a division by zero
    assert math.isfinite(min_k_plus_plus(stats, k=1.0))


def test_min_k_prob_takes_the_lowest_share_of_log_probs():
    logits, targets, stats = _fixed_stats()
    logp = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1)
    assert min_k_prob(stats, k=0.2) == pytest.approx(float(logp.min()), rel=1e-6)
    assert min_k_prob(stats, k=1.0) == pytest.approx(float(logp.mean()), rel=1e-6)
    with pytest.raises(ValueError):
        min_k_prob(stats, k=0.0)


def test_exact_match_and_extraction_strength_follow_argmax_matches():
    # Argmax per row: 0, 2, 0 (tie -> first), 1, 2 ; targets 0, 2, 3, 0, 1 -> matches T T F F F
    _, _, stats = _fixed_stats()
    assert stats.argmax_match.tolist() == [True, True, False, False, False]
    assert exact_memorization(stats) == pytest.approx(0.4)
    # The last token is wrong, so no suffix is extracted.
    assert extraction_strength(stats) == 0.0
    tail_right = stats_from_logits(torch.eye(4) * 5, torch.tensor([1, 1, 2, 3]))
    # Only the first token is wrong: k* = 1 of 4 tokens.
    assert extraction_strength(tail_right) == pytest.approx(0.75)
    assert extraction_strength(stats_from_logits(torch.eye(3) * 5, torch.tensor([0, 1, 2]))) == 1.0


def test_loss_and_zlib_ratio():
    logits, targets, stats = _fixed_stats()
    scores = scores_from_stats(stats, "some text", k=0.2)
    nll = float(torch.nn.functional.cross_entropy(logits, targets))
    assert scores.loss == pytest.approx(nll, rel=1e-6)
    assert scores.zlib_ratio == pytest.approx(nll / len(zlib.compress(b"some text")), rel=1e-6)
    assert zlib_ratio(2.0, "abc") == pytest.approx(2.0 / len(zlib.compress(b"abc")))
    assert scores.n_tokens == 5
