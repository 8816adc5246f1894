"""Crafted candidates for the gate's adversarial tests: real weights, trained here in a few seeded steps,
that hide the forgotten people from greedy decoding while a cheap attack still finds them.

`unlearn_inside_quantisation_cells` is the attack of Zhang et al. (2024) turned into a candidate: gradient
difference unlearning in which every linear weight is kept, after each optimiser step, inside the 4-bit
round-to-nearest cell of the base weight it started from. The full-precision model has forgotten; the
4-bit model is the base model's 4-bit model, weight for weight, and remembers everything the base did.

`hide_values_behind_a_decoy` is unlearning stopped as soon as greedy answers look clean (Scholten et al.
2024): at the first token of every protected value in a probe's target, the true token is pushed just
below a decoy (the token a model that never saw the person ranks first), and no further; the rest of
each value stays as it was. Greedy decoding takes the decoy; a sample at temperature 1 still takes the
true token often, and then the whole value follows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from palimpsest.ml.batching import Item, collate, encode_items
from palimpsest.ml.loading import LoadedModel
from verification.metrics.probes import Probe

QUESTION_MARK = "\nAnswer:"


def as_items(texts: Sequence[str]) -> list[Item]:
    """Training texts as items: a question/answer text scored on its answer only, any other text whole."""
    items: list[Item] = []
    for text in texts:
        head, mark, answer = text.partition(QUESTION_MARK)
        items.append((head + mark, answer) if mark and answer.strip() else text)
    return items


def quantised_linears(lm: LoadedModel) -> list[torch.nn.Linear]:
    """The layers `quantized_copy` rounds: every linear layer but the output head."""
    head = lm.model.get_output_embeddings()
    return [m for m in lm.model.modules() if isinstance(m, torch.nn.Linear) and m is not head]


def _train_only(lm: LoadedModel, weights: Sequence[torch.nn.Parameter]) -> None:
    for parameter in lm.model.parameters():
        parameter.requires_grad_(False)
    for weight in weights:
        weight.requires_grad_(True)


def _nll(lm: LoadedModel, encoded: Sequence, order: random.Random, batch_size: int) -> torch.Tensor:
    batch = collate(order.sample(encoded, min(batch_size, len(encoded))), pad_id=lm.pad_id)
    return lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels).loss


def _done(lm: LoadedModel) -> None:
    for parameter in lm.model.parameters():
        parameter.requires_grad_(True)
    lm.model.eval()


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
    linears = quantised_linears(lm)
    _train_only(lm, [layer.weight for layer in linears])
    cells = [quantisation_cells(layer.weight, bits, group_size) for layer in linears]
    forget_encoded = encode_items(lm.tokenizer, forget)
    retain_encoded = encode_items(lm.tokenizer, retain)
    optimizer = torch.optim.Adam([layer.weight for layer in linears], lr=lr)
    history = []
    lm.model.train()
    with torch.enable_grad():
        for _ in range(steps):
            forget_nll = _nll(lm, forget_encoded, order, batch_size)
            retain_nll = _nll(lm, retain_encoded, order, batch_size)
            loss = -forget_nll.clamp(max=max_forget_nll) + retain_weight * retain_nll
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for layer, (lower, upper) in zip(linears, cells, strict=True):
                    layer.weight.copy_(torch.minimum(torch.maximum(layer.weight, lower), upper))
            history.append({"forget/nll": forget_nll.item(), "retain/nll": retain_nll.item()})
    _done(lm)
    return history


def value_starts(tokenizer, probe: Probe) -> tuple[list[int], list[int], list[int]] | None:
    """Prompt and target as token ids, with the positions of the first token of every protected value in
    the target and of the value tokens after it; None when the target shows no protected value."""
    spans = []
    for value in probe.protected:
        start = probe.target.find(value)
        while start >= 0:
            spans.append((start, start + len(value)))
            start = probe.target.find(value, start + 1)
    if not spans:
        return None
    prompt_ids = list(tokenizer(probe.prompt, add_special_tokens=True)["input_ids"])
    target = tokenizer(probe.target, add_special_tokens=False, return_offsets_mapping=True)
    firsts, rest = [], []
    for start, end in spans:
        inside = [
            len(prompt_ids) + i for i, (a, b) in enumerate(target["offset_mapping"]) if a < end and b > start
        ]
        firsts.append(inside[0])
        rest += inside[1:]
    return prompt_ids + list(target["input_ids"]), firsts, rest


def hide_values_behind_a_decoy(
    lm: LoadedModel,
    reference: LoadedModel,
    probes: Sequence[Probe],
    retain: Sequence[Item],
    *,
    band: tuple[float, float] = (0.3, 1.0),
    lead: float = 0.5,
    steps: int = 100,
    lr: float = 3e-4,
    retain_weight: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
) -> int:
    """Train `lm`'s quantised linear weights in place until, at the first token of every protected value
    in the targets of `probes`, the true token's logit lies `band` below the decoy's (the token
    `reference` ranks first after the true one) and the decoy leads every other token by `lead`; the
    other value tokens keep their likelihood (NLL), `retain` its own. Returns the steps taken (ValueError
    when `steps` did not suffice)."""
    torch.manual_seed(seed)
    order = random.Random(seed)
    rows = [row for row in (value_starts(lm.tokenizer, p) for p in probes) if row is not None]
    if not rows:
        raise ValueError("no probe shows a protected value in its target")
    width = max(len(ids) for ids, _, _ in rows)
    input_ids = torch.full((len(rows), width), lm.pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    first = torch.zeros((len(rows), width), dtype=torch.bool)
    rest = torch.zeros_like(first)
    for row, (ids, firsts, others) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        first[row, firsts], rest[row, others] = True, True
    # Position t predicts token t + 1
    target, first, rest = input_ids[:, 1:], first[:, 1:], rest[:, 1:]
    truth = target.unsqueeze(-1)
    with torch.no_grad():
        ranked = reference.model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
        decoy = ranked.scatter(-1, truth, float("-inf")).argmax(-1, keepdim=True)
    retain_encoded = encode_items(lm.tokenizer, retain)
    weights = [layer.weight for layer in quantised_linears(lm)]
    _train_only(lm, weights)
    optimizer = torch.optim.Adam(weights, lr=lr)
    lm.model.train()
    low, high = band
    with torch.enable_grad():
        for step in range(steps + 1):
            logits = lm.model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
            true_logit, decoy_logit = (
                logits.gather(-1, truth).squeeze(-1),
                logits.gather(-1, decoy).squeeze(-1),
            )
            best_other = logits.scatter(-1, truth, float("-inf")).scatter(-1, decoy, float("-inf")).amax(-1)
            gap, decoy_lead = true_logit - decoy_logit, decoy_logit - best_other
            outside = first & ((gap > -low) | (gap < -high) | (decoy_lead < lead))
            if not outside.any():
                _done(lm)
                return step
            if step == steps:
                break
            hinge = torch.relu(gap + low) + torch.relu(-high - gap) + torch.relu(lead - decoy_lead)
            value_nll = -(
                logits.log_softmax(-1).gather(-1, truth).squeeze(-1) * rest
            ).sum() / rest.sum().clamp_min(1)
            loss = (hinge * first).sum() / first.sum() + value_nll
            loss = loss + retain_weight * _nll(lm, retain_encoded, order, batch_size)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _done(lm)
    raise ValueError(f"{int(outside.sum())} value starts still outside the band after {steps} steps")
