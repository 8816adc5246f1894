"""Batched greedy and seeded sampled continuation of text prefixes (left padding, KV cache)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from palimpsest.ml.batching import EncodedItem, chunked, collate
from palimpsest.ml.loading import LoadedModel


def _encode_prefixes(lm: LoadedModel, prefixes: Sequence[str], max_prefix_tokens: int) -> list[EncodedItem]:
    items = []
    for prefix in prefixes:
        # A too-long prefix keeps its end: that is the part the continuation depends on most.
        ids = list(lm.tokenizer(prefix, add_special_tokens=True)["input_ids"])[-max_prefix_tokens:]
        items.append(EncodedItem(input_ids=ids, labels=ids))
    return items


def cache_kwargs(out) -> dict:
    """The key/value cache of a forward's output, as the keyword the next forward takes it by."""
    # transformers 5.x renamed past_key_values to cache; accept either so older models keep working.
    if "cache" in out:
        return {"cache": out["cache"]}
    return {"past_key_values": out["past_key_values"]}


def last_logits_only(model) -> dict:
    """Ask for the last position's logits only (the next token's), where the model's forward takes that:
    the output layer then skips every earlier position of a prompt."""
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}


@torch.no_grad()
def _decode_batch(
    lm: LoadedModel,
    items: Sequence[EncodedItem],
    *,
    max_new_tokens: int,
    temperature: float | None,
    generator: torch.Generator | None,
) -> list[list[int]]:
    batch = collate(items, pad_id=lm.pad_id, padding_side="left").to(lm.device)
    attention = batch.attention_mask
    # Explicit positions so left padding does not shift the real tokens.
    positions = (attention.cumsum(-1) - 1).clamp_min(0)
    out = lm.model(
        input_ids=batch.input_ids,
        attention_mask=attention,
        position_ids=positions,
        use_cache=True,
        **last_logits_only(lm.model),
    )
    finished = torch.zeros(len(items), dtype=torch.bool, device=lm.device)
    produced: list[torch.Tensor] = []
    next_pos = positions[:, -1:]
    for _ in range(max_new_tokens):
        logits = out.logits[:, -1, :].float()
        if temperature is None:
            next_tok = logits.argmax(-1)
        else:
            # Shifted so the largest logit is 0 before dividing: a temperature near 0 (or one that is 0 in
            # float32) then gives -inf for the rest and 0 (not inf - inf, nor 0/0) for the top, never NaN.
            shifted = logits - logits.amax(-1, keepdim=True)
            probs = torch.softmax((shifted / temperature).nan_to_num(nan=0.0), dim=-1)
            next_tok = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        next_tok = torch.where(finished, torch.full_like(next_tok, lm.pad_id), next_tok)
        produced.append(next_tok)
        if lm.eos_id is not None:
            finished |= next_tok == lm.eos_id
        if bool(finished.all()) or len(produced) == max_new_tokens:
            break  # no forward pass for a token that will never be read
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        next_pos = next_pos + 1
        out = lm.model(
            input_ids=next_tok.unsqueeze(-1),
            attention_mask=attention,
            position_ids=next_pos,
            use_cache=True,
            **cache_kwargs(out),
        )
    tokens = torch.stack(produced, dim=1).cpu().tolist() if produced else [[] for _ in items]
    result = []
    for row in tokens:
        if lm.eos_id is not None and lm.eos_id in row:
            row = row[: row.index(lm.eos_id)]
        result.append(row)
    return result


def greedy_continue(
    lm: LoadedModel,
    prefixes: Sequence[str],
    *,
    max_new_tokens: int | Sequence[int] = 32,
    batch_size: int = 32,
    max_prefix_tokens: int = 512,
) -> list[str]:
    """Greedy continuation of each prefix (the continuation only, stopped at eos, special tokens removed).

    `max_new_tokens` may be one budget per prefix: prefixes with similar budgets share a batch, and each
    continuation is cut to its own budget, so a result never depends on what else is in the call.
    """
    items = _encode_prefixes(lm, prefixes, max_prefix_tokens)
    budgets = [max_new_tokens] * len(items) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    if len(budgets) != len(items):
        raise ValueError("one max_new_tokens per prefix, or one for all")
    order = sorted(range(len(items)), key=lambda i: (budgets[i], len(items[i].input_ids)))
    texts: list[str] = [""] * len(items)
    for idx in chunked(order, batch_size):
        rows = _decode_batch(
            lm,
            [items[i] for i in idx],
            max_new_tokens=max(budgets[i] for i in idx),
            temperature=None,
            generator=None,
        )
        for i, row in zip(idx, rows, strict=True):
            texts[i] = lm.tokenizer.decode(row[: budgets[i]], skip_special_tokens=True)
    return texts


def sample_continue(
    lm: LoadedModel,
    prefixes: Sequence[str],
    *,
    n: int,
    temperature: float = 1.0,
    max_new_tokens: int = 32,
    seed: int = 0,
    batch_size: int = 32,
    max_prefix_tokens: int = 512,
) -> list[list[str]]:
    """n samples per prefix from the full distribution at `temperature`; the same seed gives the same samples."""
    if n < 1 or temperature <= 0:
        raise ValueError("n must be >= 1 and temperature > 0")
    generator = torch.Generator(device=lm.device).manual_seed(seed)
    items = _encode_prefixes(lm, prefixes, max_prefix_tokens)
    flat = [(p, items[p]) for p in range(len(items)) for _ in range(n)]
    samples: list[list[str]] = [[] for _ in prefixes]
    for chunk in chunked(flat, batch_size):
        rows = _decode_batch(
            lm,
            [item for _, item in chunk],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            generator=generator,
        )
        for (p, _), row in zip(chunk, rows, strict=True):
            samples[p].append(lm.tokenizer.decode(row, skip_special_tokens=True))
    return samples
