"""Per-token log-probs and next-token distribution statistics of target tokens, batched, no grad."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from palimpsest.ml.batching import IGNORE_INDEX, EncodedItem, Item, chunked, collate, encode_items
from palimpsest.ml.loading import LoadedModel

MIN_VARIANCE = 1e-6


@dataclass(frozen=True)
class TokenStats:
    """Statistics of one sequence's target tokens, all tensors of shape (n_targets,), on CPU."""

    target_ids: torch.Tensor  # the tokens being predicted
    logprobs: torch.Tensor  # log p(x_t | x_<t)
    mean_logprob: torch.Tensor  # mu_t = sum_v p_v log p_v   (Min-K%++)
    std_logprob: torch.Tensor  # sigma_t, from sigma^2 = sum_v p_v (log p_v)^2 - mu^2, clamped
    argmax_match: torch.Tensor  # bool: teacher-forced argmax equals the target

    @property
    def n_tokens(self) -> int:
        return int(self.target_ids.numel())


def stats_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> TokenStats:
    """logits (n, V) are the predictions for targets (n,); pure function, used for hand checks in tests."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    p = logp.exp()
    mu = (p * logp).sum(-1)
    var = (p * logp.square()).sum(-1) - mu.square()
    return TokenStats(
        target_ids=targets.cpu(),
        logprobs=logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu(),
        mean_logprob=mu.cpu(),
        std_logprob=var.clamp_min(MIN_VARIANCE).sqrt().cpu(),
        argmax_match=(logits.argmax(-1) == targets).cpu(),
    )


def iter_sorted_batches(
    items: Sequence[EncodedItem], batch_size: int
) -> Iterator[tuple[list[int], list[EncodedItem]]]:
    """Batches of similar length to keep padding small; yields the original indices with each batch."""
    order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
    for idx in chunked(order, batch_size):
        yield list(idx), [items[i] for i in idx]


@torch.no_grad()
def encoded_token_stats(
    lm: LoadedModel, items: Sequence[EncodedItem], *, batch_size: int = 32
) -> list[TokenStats]:
    results: list[TokenStats | None] = [None] * len(items)
    for idx, chunk in iter_sorted_batches(items, batch_size):
        batch = collate(chunk, pad_id=lm.pad_id).to(lm.device)
        logits = lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        # Position t-1 predicts token t.
        pred, labels = logits[:, :-1], batch.labels[:, 1:]
        for row, original in enumerate(idx):
            keep = labels[row] != IGNORE_INDEX
            results[original] = stats_from_logits(pred[row][keep], labels[row][keep])
    return results  # type: ignore[return-value]


def token_statistics(
    lm: LoadedModel, items: Sequence[Item], *, batch_size: int = 32, max_length: int = 512
) -> list[TokenStats]:
    """One forward pass per batch; items are texts (all tokens scored) or (prompt, answer) pairs."""
    return encoded_token_stats(
        lm, encode_items(lm.tokenizer, items, max_length=max_length), batch_size=batch_size
    )


def token_logprobs(
    lm: LoadedModel, items: Sequence[Item], *, batch_size: int = 32, max_length: int = 512
) -> list[torch.Tensor]:
    return [s.logprobs for s in token_statistics(lm, items, batch_size=batch_size, max_length=max_length)]


def sequence_nll(
    lm: LoadedModel, items: Sequence[Item], *, batch_size: int = 32, max_length: int = 512
) -> list[float]:
    """Mean negative log-likelihood of each item's target tokens (nan for an item with no target)."""
    out = []
    for stats in token_statistics(lm, items, batch_size=batch_size, max_length=max_length):
        out.append(float(-stats.logprobs.mean()) if stats.n_tokens else float("nan"))
    return out
