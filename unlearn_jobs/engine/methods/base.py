"""Shared shapes of the unlearning methods: what a forward pass hands a loss, and what a loss returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass
class SideOutput:
    """One side (forget or retain) of a micro-batch after the forward pass.

    Token tensors are flat and item-major: the target tokens of item 0, then of item 1, and so on.
    """

    token_logp: Tensor  # (n_targets,) log π_θ of each target token
    token_item: Tensor  # (n_targets,) position of the token's item in the micro-batch
    seq_len: Tensor  # (n_items,) target tokens per item, float
    n_items: int
    target_logp_full: Tensor | None = None  # (n_targets, vocab) log-softmax at target positions (KL)
    hidden: Tensor | None = None  # (n_valid, hidden) states of one layer at non-pad tokens (RMU)
    ref_seq_logp: Tensor | None = None  # (n_items,) log π_ref(y|x), cached before training
    ref_target_logp_full: Tensor | None = None  # (n_targets, vocab)
    ref_hidden: Tensor | None = None  # (n_valid, hidden)
    _seq_logp: Tensor | None = field(default=None, repr=False)

    @property
    def seq_logp(self) -> Tensor:
        """log π_θ(y|x): summed target log-probs per item."""
        if self._seq_logp is None:
            zeros = torch.zeros(self.n_items, dtype=self.token_logp.dtype, device=self.token_logp.device)
            self._seq_logp = zeros.index_add(0, self.token_item, self.token_logp)
        return self._seq_logp

    @property
    def nll(self) -> Tensor:
        """Mean NLL over all target tokens of the side (token-weighted, as Hugging Face computes it)."""
        return -self.token_logp.mean()


@dataclass
class ForgetRetainBatch:
    forget: SideOutput
    retain: SideOutput | None
    state: dict[str, Any] = field(default_factory=dict)  # per-run method state (RMU's control vector)
    chosen: SideOutput | None = None  # DPO: the preferred answers to the same forget prompts


@dataclass
class Losses:
    total: Tensor
    parts: dict[str, Tensor]


@dataclass(frozen=True)
class Method:
    """A registry entry. The runner computes what `needs` asks for and calls `loss`."""

    name: str
    config_cls: type
    loss: Callable[[ForgetRetainBatch, Any], Losses]
    uses_retain: bool = True
    ref_forget_seq_logp: bool = False  # NPO, DPO
    retain_dist: bool = False  # KL: full next-token distributions on retain
    hidden_layer: Callable[[Any, int], int] | None = None  # RMU: which layer's output to read
    logs_forget_nll: bool = True
    prepare_forget: Callable[[Sequence[Any], Any], Sequence[Any]] | None = None  # refusal: swap answers
    select_trainable: Callable[[str, Any, int], bool] | None = None  # which weights train (or get adapters)
    prepare_chosen: Callable[[Sequence[Any], Any], Sequence[Any]] | None = None  # DPO: preferred answers
    init_state: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None  # from reference statistics


def make_losses(total: Tensor, parts: dict[str, Tensor]) -> Losses:
    """Losses with the parts detached (they are only logged) and `loss/total` added."""
    logged = {key: value.detach() for key, value in parts.items()}
    logged["loss/total"] = total.detach()
    return Losses(total=total, parts=logged)
