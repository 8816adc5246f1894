"""DPO form of refusal unlearning: the refusal is the preferred answer to a forget prompt, the original
answer the rejected one; both measured against the frozen reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch.nn.functional as F

from unlearn_jobs.engine.items import TextItem
from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses
from unlearn_jobs.engine.methods.refusal import DEFAULT_REFUSALS, refusal_items, split_prompt


@dataclass
class DPOConfig:
    beta: float = field(default=0.1, metadata={"help": "inverse temperature of the preference loss"})
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain NLL"})
    refusal_texts: tuple[str, ...] = field(
        default=DEFAULT_REFUSALS, metadata={"help": "preferred answers, cycled over the forget items"}
    )
    prompt_fraction: float = field(
        default=0.5, metadata={"help": "plain-text forget items: share of leading words used as the prompt"}
    )

    def __post_init__(self):
        self.refusal_texts = tuple(self.refusal_texts)
        if self.beta <= 0:
            raise ValueError("beta must be positive")
        if self.alpha < 0:
            raise ValueError("alpha must not be negative")
        if not self.refusal_texts or not all(text.strip() for text in self.refusal_texts):
            raise ValueError("refusal_texts must hold non-empty texts")
        if not 0.0 < self.prompt_fraction < 1.0:
            raise ValueError("prompt_fraction must be in (0, 1)")


def rejected_items(forget_items: Sequence[TextItem], cfg: DPOConfig) -> list[TextItem]:
    """The original answers, split into prompt and answer exactly as the refusals are."""
    rejected = []
    for item in forget_items:
        prompt, answer = split_prompt(item, cfg.prompt_fraction)
        rejected.append(replace(item, prompt=prompt, text=answer))
    return rejected


def dpo_loss(batch: ForgetRetainBatch, cfg: DPOConfig) -> Losses:
    win = batch.chosen.seq_logp - batch.chosen.ref_seq_logp
    lose = batch.forget.seq_logp - batch.forget.ref_seq_logp
    forget = -(2 / cfg.beta) * F.logsigmoid(cfg.beta * (win - lose)).mean()
    retain = batch.retain.nll
    total = forget + cfg.alpha * retain
    parts = {
        "forget/dpo": forget,
        "forget/nll": batch.forget.nll,
        "forget/idk_nll": batch.chosen.nll,
        "retain/nll": retain,
    }
    return make_losses(total, parts)


DPO = Method(
    name="dpo",
    config_cls=DPOConfig,
    loss=dpo_loss,
    ref_forget_seq_logp=True,
    prepare_forget=rejected_items,
    prepare_chosen=refusal_items,
)
