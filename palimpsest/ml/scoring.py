"""Per-token log-probs and next-token distribution statistics of target tokens, batched, no grad."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from palimpsest.ml.batching import IGNORE_INDEX, EncodedItem, Item, chunked, collate, encode_items
from palimpsest.ml.generation import cache_kwargs, last_logits_only
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


def _first_target(item: EncodedItem) -> int:
    """Position of the item's first target token (position 0 is never predicted); its length if none."""
    return next((t for t in range(1, len(item.labels)) if item.labels[t] != IGNORE_INDEX), len(item.labels))


@torch.no_grad()
def shared_prompt_token_stats(
    lm: LoadedModel, items: Sequence[Item], *, batch_size: int = 32, max_length: int = 512
) -> list[TokenStats]:
    """`token_statistics`, reading each distinct prompt once.

    Many (prompt, answer) pairs ask one question of different answers (screening's knowledge probes ask
    each value after the same few questions): each prompt is read once, its keys and values are cached,
    and every answer to it is read after that cache, so a pair costs its answer's tokens, not its
    prompt's. Prompts of one length share a batch unpadded, so their cached positions line up.
    """
    encoded = encode_items(lm.tokenizer, items, max_length=max_length)
    results: list[TokenStats | None] = [None] * len(encoded)
    by_prompt: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, item in enumerate(encoded):
        by_prompt[tuple(item.input_ids[: _first_target(item)])].append(i)
    by_length: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for prompt in by_prompt:
        by_length[len(prompt)].append(prompt)
    last_only = last_logits_only(lm.model)
    for i in by_prompt.pop((), []):  # nothing at all to read (an empty text without a start token)
        results[i] = stats_from_logits(torch.zeros((0, 1)), torch.zeros(0, dtype=torch.long))
    by_length.pop(0, None)
    for length in sorted(by_length):
        for prompts in chunked(sorted(by_length[length]), batch_size):
            ids = torch.tensor(prompts, dtype=torch.long, device=lm.device)
            out = lm.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, **last_only)
            first = out.logits[:, -1]  # each prompt's prediction of its answers' first token
            members = sorted(
                ((row, i) for row, prompt in enumerate(prompts) for i in by_prompt[prompt]),
                key=lambda member: len(encoded[member[1]].input_ids),
            )
            for part in chunked(members, batch_size):
                _answer_stats(lm, encoded, part, length, first, cache_kwargs(out), results)
    return results  # type: ignore[return-value]


def _answer_stats(lm, encoded, part, length, first, cached: dict, results) -> None:
    """The answers of `part` ((prompt row, item index) pairs), read after their prompts' cache."""
    rows = [row for row, _ in part]
    answers = [encoded[i].input_ids[length:] for _, i in part]
    logits = [first[row : row + min(1, len(answer))] for row, answer in zip(rows, answers, strict=True)]
    width = max(len(a) for a in answers) - 1  # an answer's last token predicts nothing that is read
    if width > 0:
        ((name, cache),) = cached.items()
        cache = copy.deepcopy(cache)
        cache.batch_select_indices(torch.tensor(rows, device=lm.device))
        ids = torch.full((len(part), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(part), length + width), dtype=torch.long)
        mask[:, :length] = 1
        for k, answer in enumerate(answers):
            read = answer[:-1]
            ids[k, : len(read)] = torch.tensor(read, dtype=torch.long)
            mask[k, length : length + len(read)] = 1
        positions = (torch.arange(width) + length).unsqueeze(0).expand(len(part), -1)
        out = lm.model(
            input_ids=ids.to(lm.device),
            attention_mask=mask.to(lm.device),
            position_ids=positions.to(lm.device),
            use_cache=True,
            **{name: cache},
        )
        logits = [
            torch.cat([logits[k], out.logits[k, : max(0, len(answer) - 1)]])
            for k, answer in enumerate(answers)
        ]
    for k, (_, i) in enumerate(part):
        targets = torch.tensor(encoded[i].input_ids[length:], dtype=torch.long, device=lm.device)
        keep = torch.tensor(encoded[i].labels[length:], device=lm.device) != IGNORE_INDEX
        results[i] = stats_from_logits(logits[k][keep], targets[keep])
