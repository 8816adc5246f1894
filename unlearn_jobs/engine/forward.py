"""Forward passes that feed the losses: the language-model head runs only on target positions, and
reference outputs are computed once before training (or per step when they would not fit in memory)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from peft import PeftModel
from transformers import PreTrainedModel

from unlearn_jobs.engine.data import MicroBatch
from unlearn_jobs.engine.methods.base import Method, SideOutput


class SideModel(torch.nn.Module):
    """The decoder, then the head on target positions only, as one module: the unit a process group wraps
    (DDP, FSDP, DeepSpeed hook the wrapper's forward, so every training forward must go through it). On
    large vocabularies the head is a big share of the work, and pad and prompt positions need none of it."""

    def __init__(self, model):
        super().__init__()
        self.model = model  # the Hugging Face model, or the PeftModel around it

    def forward(self, input_ids: torch.Tensor, target_pos: torch.Tensor, want_hidden: bool):
        base = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
        # No padding mask: rows are right-padded and attention is causal, so a real token never sees a pad
        # and pad outputs are never read. Without a mask, SDPA takes its fast causal kernel.
        out = base.get_decoder()(
            input_ids=input_ids, attention_mask=None, use_cache=False, output_hidden_states=want_hidden
        )
        states = out.last_hidden_state
        logits = base.get_output_embeddings()(
            states.reshape(-1, states.shape[-1]).index_select(0, target_pos)
        ).float()
        softcap = getattr(base.config, "final_logit_softcapping", None)
        if softcap:
            logits = softcap * torch.tanh(logits / softcap)
        return logits, (out.hidden_states if want_hidden else None)


def side_forward(
    model, micro: MicroBatch, *, dist: bool = False, hidden_layer: int | None = None
) -> SideOutput:
    """`model` is a SideModel, a process group's wrapper around one, or a plain model (wrapped here)."""
    if isinstance(model, PreTrainedModel | PeftModel):
        model = SideModel(model)
    logits, hidden_states = model(micro.input_ids, micro.target_pos, hidden_layer is not None)
    full = None
    if dist:
        full = F.log_softmax(logits, dim=-1)
        token_logp = full.gather(1, micro.target_ids[:, None]).squeeze(1)
    else:
        token_logp = -F.cross_entropy(logits, micro.target_ids, reduction="none")
    hidden = None
    if hidden_layer is not None:
        # hidden_states[0] is the embedding output; [ℓ + 1] is the output of decoder layer ℓ
        states = hidden_states[hidden_layer + 1]
        hidden = states.reshape(-1, states.shape[-1]).index_select(0, micro.valid_pos)
    return SideOutput(
        token_logp=token_logp,
        token_item=micro.token_item,
        seq_len=micro.seq_len,
        n_items=micro.n_items,
        target_logp_full=full,
        hidden=hidden,
    )


def _per_item(values: torch.Tensor, owners: torch.Tensor, n_items: int) -> list[torch.Tensor]:
    counts = torch.bincount(owners.cpu(), minlength=n_items).tolist()
    return list(torch.split(values, counts))


class ReferenceOutputs:
    """What the frozen initial model says about each item, keyed by item index.

    In LoRA mode the reference is the base with adapters disabled; in full mode it is the model before
    the first step. Built before any checkpoint is loaded, so a resumed run sees the same reference.
    """

    def __init__(
        self,
        model,
        method: Method,
        *,
        mode: str,
        hidden_layer: int | None,
        max_bytes: int,
        autocast,
        inner=None,
        may_copy: bool = True,
    ):
        # `model` runs the forwards (a SideModel, or a process group's wrapper around one); `inner` is the
        # Hugging Face or PeftModel inside it (LoRA's disable_adapter, full mode's frozen copy)
        self.model, self.method, self.mode = model, method, mode
        self.inner = model if inner is None else inner
        self.may_copy = may_copy  # False when parameters are sharded: a copy would not be a model
        self.hidden_layer, self.max_bytes, self.autocast = hidden_layer, max_bytes, autocast
        self.forget_seq_logp: torch.Tensor | None = None
        self.chosen_seq_logp: torch.Tensor | None = None
        self.retain_dist: list[torch.Tensor] | None = None
        self.retain_hidden: list[torch.Tensor] | None = None
        self.forget_hidden_norm: float | None = None
        self.initial_retain_nll: float | None = None
        self.frozen = None  # full mode, when retain distributions are too big to cache
        self.on_the_fly = False

    def _reference_context(self):
        return self.inner.disable_adapter() if self.mode == "lora" else nullcontext()

    @torch.no_grad()
    def build(
        self,
        forget_batches: Sequence[MicroBatch],
        retain_batches: Sequence[MicroBatch],
        n_forget: int,
        n_retain: int,
        vocab: int,
        want_retain_nll: bool,
        chosen_batches: Sequence[MicroBatch] = (),
    ) -> None:
        was_training = self.model.training
        self.model.eval()
        with self._reference_context(), self.autocast():
            if self.method.ref_forget_seq_logp or self.hidden_layer is not None:
                self.forget_seq_logp, self.forget_hidden_norm = self._seq_pass(forget_batches, n_forget)
            if chosen_batches:
                self.chosen_seq_logp, _ = self._seq_pass(chosen_batches, n_forget)
            retain_targets = sum(batch.n_targets for batch in retain_batches)
            if self.method.retain_dist and retain_targets * vocab * 4 > self.max_bytes:
                self.on_the_fly = True
                if self.mode == "full":
                    if not self.may_copy:
                        raise ValueError(
                            "KL's retain distributions exceed ref_cache_max_bytes, and a sharded full-mode run "
                            "cannot keep a frozen copy: raise ref_cache_max_bytes or use fewer retain items"
                        )
                    self.frozen = copy.deepcopy(self.inner).requires_grad_(False).eval()
            need_retain_pass = (
                self.method.retain_dist and not self.on_the_fly
            ) or self.hidden_layer is not None
            if need_retain_pass or want_retain_nll:
                self._retain_pass(retain_batches, n_retain, need_retain_pass)
        self.model.train(was_training)

    def _seq_pass(self, batches: Sequence[MicroBatch], n_items: int) -> tuple[torch.Tensor, float | None]:
        """log π_ref(y|x) per item, and the mean norm of the steered layer's states (RMU)."""
        seq_logp = torch.zeros(n_items, dtype=torch.float32)
        norm_sum, norm_count = 0.0, 0
        for micro in batches:
            micro_dev = micro.to(_device(self.model))
            side = side_forward(self.model, micro_dev, hidden_layer=self.hidden_layer)
            seq_logp[micro.item_index] = side.seq_logp.float().cpu()
            if side.hidden is not None:
                norm_sum += float(side.hidden.float().norm(dim=-1).sum())
                norm_count += side.hidden.shape[0]
        return seq_logp.to(_device(self.model)), (norm_sum / norm_count if norm_count else None)

    def _retain_pass(self, batches: Sequence[MicroBatch], n_items: int, store: bool) -> None:
        dists: list = [None] * n_items
        hiddens: list = [None] * n_items
        nll_sum, nll_count = 0.0, 0
        for micro in batches:
            micro_dev = micro.to(_device(self.model))
            side = side_forward(
                self.model, micro_dev, dist=store and self.method.retain_dist, hidden_layer=self.hidden_layer
            )
            nll_sum -= float(side.token_logp.float().sum())
            nll_count += micro.n_targets
            rows = micro.item_index.tolist()
            if store and side.target_logp_full is not None:
                for row, part in zip(
                    rows, _per_item(side.target_logp_full, micro.token_item, micro.n_items), strict=True
                ):
                    dists[row] = part.clone()
            if store and side.hidden is not None:
                owners = torch.div(micro.valid_pos, micro.input_ids.shape[1], rounding_mode="floor")
                for row, part in zip(rows, _per_item(side.hidden, owners, micro.n_items), strict=True):
                    hiddens[row] = part.clone()
        self.initial_retain_nll = nll_sum / max(nll_count, 1)
        if store and self.method.retain_dist:
            self.retain_dist = dists
        if store and self.hidden_layer is not None:
            self.retain_hidden = hiddens

    def fill_forget(self, side: SideOutput, micro: MicroBatch) -> None:
        if self.method.ref_forget_seq_logp:
            side.ref_seq_logp = self.forget_seq_logp.index_select(0, micro.index_on(side.token_logp.device))

    def fill_chosen(self, side: SideOutput, micro: MicroBatch) -> None:
        side.ref_seq_logp = self.chosen_seq_logp.index_select(0, micro.index_on(side.token_logp.device))

    def fill_retain(self, side: SideOutput, micro: MicroBatch) -> None:
        rows = micro.item_index.tolist()
        if self.method.retain_dist:
            if self.on_the_fly:
                side.ref_target_logp_full = self._fresh_dist(micro)
            else:
                side.ref_target_logp_full = torch.cat([self.retain_dist[row] for row in rows])
        if self.hidden_layer is not None:
            side.ref_hidden = torch.cat([self.retain_hidden[row] for row in rows])

    @torch.no_grad()
    def _fresh_dist(self, micro: MicroBatch) -> torch.Tensor:
        if self.frozen is not None:
            return side_forward(self.frozen, micro, dist=True).target_logp_full
        # The reference is the frozen base as the cache path sees it: eval mode (no dropout).
        was_training = self.model.training
        self.model.eval()
        try:
            with self.inner.disable_adapter():
                return side_forward(self.model, micro, dist=True).target_logp_full
        finally:
            self.model.train(was_training)


def _device(model) -> torch.device:
    return next(model.parameters()).device
