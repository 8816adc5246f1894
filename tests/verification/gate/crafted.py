"""Crafted candidates for the gate's adversarial tests: real weights, trained here in a few seeded steps,
that hide the forgotten people from greedy decoding while a cheap attack still finds them.

`unlearn_inside_quantisation_cells` is the attack of Zhang et al. (2024) turned into a candidate: gradient
difference unlearning in which every linear weight is kept, after each optimiser step, inside the 4-bit
round-to-nearest cell of the base weight it started from. The full-precision model has forgotten; the
4-bit model is the base model's 4-bit model, weight for weight, and remembers everything the base did.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from palimpsest.ml.batching import Item, collate, encode_items
from palimpsest.ml.loading import LoadedModel

QUESTION_MARK = "\nAnswer:"


def as_items(texts: Sequence[str]) -> list[Item]:
    """Training texts as the engine would score them: a question/answer text on its answer only."""
    items: list[Item] = []
    for text in texts:
        head, mark, answer = text.partition(QUESTION_MARK)
        items.append((head + mark, answer) if mark and answer.strip() else text)
    return items


def quantised_linears(lm: LoadedModel) -> list[torch.nn.Linear]:
    """The layers `quantized_copy` rounds: every linear layer but the output head."""
    head = lm.model.get_output_embeddings()
    return [m for m in lm.model.modules() if isinstance(m, torch.nn.Linear) and m is not head]


def quantisation_cells(
    weight: torch.Tensor, bits: int, group_size: int, *, margin: float = 0.02
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per weight, the interval it may move in without changing what `rtn_quantize(weight, bits,
    group_size)` returns: its own rounding cell, `margin` of a step short of each edge, and never past
    its group's minimum or maximum. Each group's minimum and maximum weight are pinned, so the group's
    offset and step (hence every other weight's cell) stay those of `weight`."""
    columns = weight.shape[-1]
    if columns % group_size:
        raise ValueError("these cells assume whole groups (no padded last group)")
    groups = weight.detach().float().reshape(-1, columns // group_size, group_size)
    low, high = groups.amin(-1, keepdim=True), groups.amax(-1, keepdim=True)
    step = (high - low) / (2**bits - 1)
    codes = torch.round((groups - low) / step)
    lower = torch.maximum(low + (codes - 0.5 + margin) * step, low)
    upper = torch.minimum(low + (codes + 0.5 - margin) * step, high)
    pinned = torch.zeros_like(groups, dtype=torch.bool)
    pinned.scatter_(-1, groups.argmin(-1, keepdim=True), True)
    pinned.scatter_(-1, groups.argmax(-1, keepdim=True), True)
    lower, upper = torch.where(pinned, groups, lower), torch.where(pinned, groups, upper)
    return lower.reshape(weight.shape), upper.reshape(weight.shape)


def unlearn_inside_quantisation_cells(
    lm: LoadedModel,
    forget: Sequence[Item],
    retain: Sequence[Item],
    *,
    bits: int,
    group_size: int,
    steps: int = 60,
    lr: float = 1e-3,
    retain_weight: float = 3.0,
    max_forget_nll: float = 8.0,
    batch_size: int = 8,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Gradient difference on `lm` in place (ascent on `forget`, descent on `retain`), training only the
    quantised linear weights and projecting each back into its base weight's `bits`-bit cell after every
    step. The ascent stops pushing an item once its NLL passes `max_forget_nll`. Returns the losses."""
    torch.manual_seed(seed)
    order = random.Random(seed)
    model = lm.model
    linears = quantised_linears(lm)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    cells = []
    for layer in linears:
        layer.weight.requires_grad_(True)
        cells.append(quantisation_cells(layer.weight, bits, group_size))
    forget_encoded = encode_items(lm.tokenizer, forget)
    retain_encoded = encode_items(lm.tokenizer, retain)
    optimizer = torch.optim.Adam([layer.weight for layer in linears], lr=lr)
    history = []
    model.train()
    with torch.enable_grad():
        for _ in range(steps):
            losses = {}
            for name, encoded in (("forget", forget_encoded), ("retain", retain_encoded)):
                batch = collate(order.sample(encoded, min(batch_size, len(encoded))), pad_id=lm.pad_id)
                losses[name] = model(
                    input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels
                ).loss
            loss = -losses["forget"].clamp(max=max_forget_nll) + retain_weight * losses["retain"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for layer, (lower, upper) in zip(linears, cells, strict=True):
                    layer.weight.copy_(torch.minimum(torch.maximum(layer.weight, lower), upper))
            history.append({f"{name}/nll": value.item() for name, value in losses.items()})
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.eval()
    return history
