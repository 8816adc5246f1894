"""Membership and memorisation scores (LOSS, zlib, Min-K%, Min-K%++, EM, ES) from one forward pass per batch."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from palimpsest.ml.batching import Item
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.scoring import TokenStats, token_statistics


def _lowest_k_mean(values: torch.Tensor, k: float) -> float:
    if not 0 < k <= 1:
        raise ValueError("k must be in (0, 1]")
    if values.numel() == 0:
        return float("nan")
    count = max(1, int(values.numel() * k))
    return float(torch.sort(values.float()).values[:count].mean())


def loss_score(stats: TokenStats) -> float:
    """Mean NLL of the target tokens (lower = more likely a member)."""
    return float(-stats.logprobs.mean()) if stats.n_tokens else float("nan")


def zlib_ratio(nll: float, text: str) -> float:
    """NLL divided by the zlib-compressed length of the text in bytes."""
    return nll / len(zlib.compress(text.encode("utf-8")))


def min_k_prob(stats: TokenStats, k: float = 0.2) -> float:
    """Mean of the lowest k fraction of token log-probs (higher = more likely a member)."""
    return _lowest_k_mean(stats.logprobs, k)


def min_k_plus_plus(stats: TokenStats, k: float = 0.2) -> float:
    """Mean of the lowest k fraction of z_t = (log p(x_t) - mu_t) / sigma_t."""
    return _lowest_k_mean((stats.logprobs - stats.mean_logprob) / stats.std_logprob, k)


def exact_memorization(stats: TokenStats) -> float:
    """Fraction of target tokens whose teacher-forced argmax is the target."""
    return float(stats.argmax_match.float().mean()) if stats.n_tokens else float("nan")


def extraction_strength(stats: TokenStats) -> float:
    """1 - k*/|y|, k* the shortest prefix after which every teacher-forced argmax matches."""
    n = stats.n_tokens
    if n == 0:
        return float("nan")
    misses = torch.nonzero(~stats.argmax_match).flatten()
    k_star = 0 if misses.numel() == 0 else int(misses[-1]) + 1
    return 1.0 - k_star / n


@dataclass(frozen=True)
class MembershipScores:
    loss: float
    zlib_ratio: float
    min_k: float
    min_k_plus_plus: float
    exact_match: float
    extraction_strength: float
    n_tokens: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def scores_from_stats(stats: TokenStats, text: str, *, k: float = 0.2) -> MembershipScores:
    nll = loss_score(stats)
    return MembershipScores(
        loss=nll,
        zlib_ratio=zlib_ratio(nll, text) if not math.isnan(nll) else float("nan"),
        min_k=min_k_prob(stats, k),
        min_k_plus_plus=min_k_plus_plus(stats, k),
        exact_match=exact_memorization(stats),
        extraction_strength=extraction_strength(stats),
        n_tokens=stats.n_tokens,
    )


def membership_scores(
    lm: LoadedModel, texts: Sequence[Item], *, k: float = 0.2, batch_size: int = 32, max_length: int = 512
) -> list[MembershipScores]:
    """All scores per item; for a (prompt, answer) pair only the answer is scored (and zlib-compressed)."""
    all_stats = token_statistics(lm, texts, batch_size=batch_size, max_length=max_length)
    return [
        scores_from_stats(stats, item if isinstance(item, str) else item[1], k=k)
        for stats, item in zip(all_stats, texts, strict=True)
    ]
