"""Attacks that bring back what unlearning only hid, each on a copy of the model (the original is never
touched): weights rounded to 8 and 4 bits (Zhang et al. 2024), a few fine-tuning steps on related but
disjoint data (relearning, Hu et al. 2024), and a forget item placed inside a normal prompt, where the
normal answer must survive (Thaker et al.)."""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from palimpsest.ml.batching import Item, collate, encode_items
from palimpsest.ml.loading import LoadedModel
from verification.metrics.greedy import GreedyResult, greedy_answers
from verification.metrics.leakage import LeakageResult, probabilistic_leakage
from verification.metrics.probes import Probe

DEFAULT_GROUP_SIZE = 64


def rtn_quantize(weight: torch.Tensor, bits: int, group_size: int = DEFAULT_GROUP_SIZE) -> torch.Tensor:
    """Per-group round-to-nearest: what `bits`-bit weight-only quantization would store, dequantized.

    Every run of `group_size` consecutive weights along the last dimension (input features) gets its own
    scale (max - min) / (2^bits - 1) and offset min; each weight is rounded to the nearest of the 2^bits
    levels, so it moves by at most half a scale. A last, shorter group is padded with its own last value.
    """
    if not 2 <= bits <= 16:
        raise ValueError("bits must lie in [2, 16]")
    if group_size < 1:
        raise ValueError("group_size must be at least 1")
    original_shape, original_dtype = weight.shape, weight.dtype
    rows = weight.detach().float().reshape(-1, original_shape[-1])
    columns = rows.shape[1]
    pad = (-columns) % group_size
    if pad:
        rows = torch.cat([rows, rows[:, -1:].expand(-1, pad)], dim=1)
    groups = rows.reshape(rows.shape[0], -1, group_size)
    low = groups.amin(-1, keepdim=True)
    levels = 2**bits - 1
    # A constant group has no range: any scale restores it exactly.
    scale = ((groups.amax(-1, keepdim=True) - low) / levels).clamp_min(torch.finfo(torch.float32).tiny)
    codes = torch.round((groups - low) / scale).clamp(0, levels)
    restored = (codes * scale + low).reshape(rows.shape[0], -1)[:, :columns]
    return restored.reshape(original_shape).to(original_dtype)


def _copy(lm: LoadedModel) -> LoadedModel:
    return LoadedModel(
        model=copy.deepcopy(lm.model), tokenizer=lm.tokenizer, device=lm.device, model_dir=None
    )


@torch.no_grad()
def quantized_copy(lm: LoadedModel, bits: int, *, group_size: int = DEFAULT_GROUP_SIZE) -> LoadedModel:
    """A copy whose linear layers hold `bits`-bit per-group RTN weights (held in float, as dequantized).

    The embeddings and the output head stay in full precision, as in the usual weight-only schemes
    (GPTQ, AWQ); with tied embeddings they are the same tensor.
    """
    quantized = _copy(lm)
    head = quantized.model.get_output_embeddings()
    for module in quantized.model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            module.weight.copy_(rtn_quantize(module.weight, bits, group_size))
    return quantized


def relearned_copy(
    lm: LoadedModel,
    items: Sequence[Item],
    *,
    steps: int = 10,
    lr: float = 1e-3,
    batch_size: int = 8,
    seed: int = 0,
    max_length: int = 512,
) -> LoadedModel:
    """A copy fine-tuned for `steps` AdamW steps on `items` (texts, or (prompt, answer) pairs scored on the
    answer), cycling through them in a seeded order. The attacker's budget: few steps, little data."""
    if steps < 1 or not items:
        raise ValueError("relearning needs at least one step and one item")
    relearned = _copy(lm)
    model = relearned.model
    encoded = encode_items(lm.tokenizer, items, max_length=max_length)
    order = list(range(len(encoded)))
    random.Random(seed).shuffle(order)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    position = 0
    with torch.enable_grad():
        for _ in range(steps):
            chosen = [encoded[order[(position + j) % len(order)]] for j in range(min(batch_size, len(order)))]
            position += len(chosen)
            batch = collate(chosen, pad_id=lm.pad_id).to(lm.device)
            loss = model(
                input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels
            ).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return relearned


@dataclass(frozen=True)
class MixedPromptResult:
    plain: float  # mean ROUGE-L recall of the normal answers asked alone
    mixed: float  # the same answers asked after a forget item
    survival: float  # mixed / plain (1 = the forget item does not disturb the normal answer)
    per_item: tuple[tuple[str, float, float], ...]  # (item id, plain recall, mixed recall)


def mixed_prompt_survival(
    lm: LoadedModel, mixed: Sequence[Probe], plain: Sequence[Probe], *, batch_size: int = 32
) -> MixedPromptResult:
    """Normal answers with and without a forget item before the question; `mixed[i]` wraps `plain[i]`."""
    if len(mixed) != len(plain) or not mixed:
        raise ValueError("one plain probe per mixed probe, and at least one")
    alone = greedy_answers(lm, plain, batch_size=batch_size).per_item
    together = greedy_answers(lm, mixed, batch_size=batch_size).per_item
    plain_mean = sum(a.rouge_recall for a in alone) / len(alone)
    mixed_mean = sum(a.rouge_recall for a in together) / len(together)
    return MixedPromptResult(
        plain=plain_mean,
        mixed=mixed_mean,
        survival=mixed_mean / plain_mean if plain_mean else float("nan"),
        per_item=tuple(
            (p.item_id, a.rouge_recall, m.rouge_recall)
            for p, a, m in zip(plain, alone, together, strict=True)
        ),
    )


@dataclass(frozen=True)
class RobustnessResult:
    # "full" (the model as it is), "int8", "int4", ...; "relearn-before" and "relearned" on the relearn probes
    leakage: dict[str, LeakageResult]
    knowledge: dict[str, GreedyResult]  # the same variants, greedy answers to the same probes
    mixed: MixedPromptResult | None

    @property
    def worst_upper_bound(self) -> float:
        """The largest pooled leak-rate bound over every attack (NaN when nothing was measured)."""
        return max((result.upper_bound for result in self.leakage.values()), default=float("nan"))


def robustness(
    lm: LoadedModel,
    probes: Sequence[Probe],
    *,
    bits: Sequence[int] = (8, 4),
    group_size: int = DEFAULT_GROUP_SIZE,
    relearn_items: Sequence[Item] = (),
    relearn_probes: Sequence[Probe] = (),
    relearn_steps: int = 10,
    relearn_lr: float = 1e-3,
    mixed: Sequence[Probe] = (),
    plain: Sequence[Probe] = (),
    samples: int = 16,
    seed: int = 0,
    batch_size: int = 32,
    max_new_tokens: int | None = None,
    **leakage_options,
) -> RobustnessResult:
    """Leakage of `probes` at full precision and re-measured under each quantization (same probes, same
    seed: only the weights differ); leakage of `relearn_probes` before and after relearning on
    `relearn_items`; survival of normal answers in mixed prompts. Steps with no input are
    skipped. `max_new_tokens` caps every output as in `probabilistic_leakage`; `leakage_options` go to
    `probabilistic_leakage` (tau, confidence, temperature)."""
    leakage: dict[str, LeakageResult] = {}
    answers: dict[str, GreedyResult] = {}

    def measure(name: str, model: LoadedModel, measured: Sequence[Probe]) -> None:
        leakage[name] = probabilistic_leakage(
            model,
            measured,
            samples=samples,
            seed=seed,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            **leakage_options,
        )
        answers[name] = greedy_answers(model, measured, batch_size=batch_size, max_new_tokens=max_new_tokens)

    if probes:
        measure("full", lm, probes)
        for b in bits:
            measure(f"int{b}", quantized_copy(lm, b, group_size=group_size), probes)
    if relearn_items and relearn_probes:
        measure("relearn-before", lm, relearn_probes)
        relearned = relearned_copy(lm, relearn_items, steps=relearn_steps, lr=relearn_lr, seed=seed)
        measure("relearned", relearned, relearn_probes)
    survival = mixed_prompt_survival(lm, mixed, plain, batch_size=batch_size) if mixed else None
    return RobustnessResult(leakage=leakage, knowledge=answers, mixed=survival)
