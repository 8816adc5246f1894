"""Predicted damage: cosine between each item's forget-loss gradient and the retain-loss gradient.

Only the last transformer block's linear layers are used. Per-item gradients are never materialised:
for a linear layer the gradient of item i is sum_t d_t x_t^T, so its inner product with the retain
gradient R is sum_t d_t^T R x_t and its squared norm is sum((D D^T) * (X X^T)) — one backward pass
serves the whole batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


def last_block(model: nn.Module) -> nn.Module:
    """The last decoder block of a causal LM (Llama `model.layers`, GPT-2 `transformer.h`, ...)."""
    n_layers = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "n_layer", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers:
            return module[-1]
    raise ValueError("could not find the decoder blocks of this model")


def block_linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {name: m for name, m in last_block(model).named_modules() if isinstance(m, nn.Linear)}


# One gradient probe at a time per process: the requires_grad switches below are the model's own state.
# Screening lanes read the same model meanwhile under no_grad, where those switches do not matter.
_GRAD_LOCK = threading.Lock()


@contextmanager
def grad_only_last_block(model: nn.Module) -> Iterator[dict[str, nn.Linear]]:
    """Let autograd reach only the last block: the backward pass stops there and costs little."""
    with _GRAD_LOCK:
        yield from _grad_only_last_block(model)


def _grad_only_last_block(model: nn.Module) -> Iterator[dict[str, nn.Linear]]:
    saved = {p: p.requires_grad for p in model.parameters()}
    linears = block_linears(model)
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for linear in linears.values():
            linear.weight.requires_grad_(True)
        yield linears
    finally:
        for p, flag in saved.items():
            p.requires_grad_(flag)
            p.grad = None


@dataclass
class RetainGradient:
    """Gradient of the mean retain NLL w.r.t. the last block's linear weights, with its norm."""

    per_layer: dict[str, torch.Tensor]
    norm: float


def per_item_nll_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over items of each item's mean target NLL (so each item's gradient is its own mean-NLL gradient)."""
    pred, target = logits[:, :-1].float(), labels[:, 1:]
    mask = target != -100
    nll = torch.nn.functional.cross_entropy(
        pred.reshape(-1, pred.size(-1)), target.clamp_min(0).reshape(-1), reduction="none"
    ).view_as(target)
    per_item = (nll * mask).sum(-1) / mask.sum(-1).clamp_min(1)
    return per_item.sum()


class GradientProbe:
    """Hooks on the last block's linears: keep inputs X and output gradients D of the current batch.

    Only this thread's forward passes are recorded: another thread may read the same model meanwhile.
    """

    def __init__(self, linears: dict[str, nn.Linear]):
        self.linears = linears
        self._thread = threading.get_ident()
        self.inputs: dict[str, torch.Tensor] = {}
        self.out_grads: dict[str, torch.Tensor] = {}
        self._handles = []

    def __enter__(self) -> GradientProbe:
        for name, linear in self.linears.items():
            self._handles.append(linear.register_forward_hook(self._forward_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _forward_hook(self, name: str):
        def hook(_module, args, output):
            if threading.get_ident() != self._thread:
                return
            self.inputs[name] = args[0].detach()
            if output.requires_grad:
                output.register_hook(lambda grad: self.out_grads.__setitem__(name, grad.detach()))

        return hook

    def cosines(self, retain: RetainGradient) -> list[float]:
        """Per-item cosine with the retain gradient, after backward() of per_item_nll_sum."""
        dot, sq = None, None
        for name in self.linears:
            x, d = self.inputs[name].float(), self.out_grads[name].float()  # (B, T, in), (B, T, out)
            r = retain.per_layer[name].float()  # (out, in)
            layer_dot = ((d @ r) * x).sum(dim=(1, 2))
            layer_sq = ((d @ d.transpose(1, 2)) * (x @ x.transpose(1, 2))).sum(dim=(1, 2))
            dot = layer_dot if dot is None else dot + layer_dot
            sq = layer_sq if sq is None else sq + layer_sq
        norms = sq.clamp_min(0).sqrt() * retain.norm
        return (dot / norms.clamp_min(1e-12)).tolist()


def retain_gradient(model: nn.Module, batch) -> RetainGradient:
    """One backward pass over a small retain batch (an EncodedBatch), mean of the items' mean NLL."""
    with grad_only_last_block(model) as linears:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        loss = per_item_nll_sum(logits, batch.labels) / batch.input_ids.size(0)
        loss.backward()
        per_layer = {name: linear.weight.grad.detach().clone() for name, linear in linears.items()}
    norm = float(torch.sqrt(sum(g.float().square().sum() for g in per_layer.values())))
    return RetainGradient(per_layer=per_layer, norm=norm)
