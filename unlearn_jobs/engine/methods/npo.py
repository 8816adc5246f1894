"""Negative preference optimisation (Zhang et al. 2024): a bounded, slower-diverging gradient ascent."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class NPOConfig:
    beta: float = field(default=0.1, metadata={"help": "inverse temperature of the preference loss"})
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain NLL"})

    def __post_init__(self):
        if self.beta <= 0:
            raise ValueError("beta must be positive")
        if self.alpha < 0:
            raise ValueError("alpha must not be negative")


def npo_loss(batch: ForgetRetainBatch, cfg: NPOConfig) -> Losses:
    log_ratio = batch.forget.seq_logp - batch.forget.ref_seq_logp  # reference log-probs cached once
    forget = -(2 / cfg.beta) * F.logsigmoid(-cfg.beta * log_ratio).mean()
    retain = batch.retain.nll
    total = forget + cfg.alpha * retain
    parts = {"forget/npo": forget, "forget/nll": batch.forget.nll, "retain/nll": retain}
    return make_losses(total, parts)


NPO = Method(name="npo", config_cls=NPOConfig, loss=npo_loss, ref_forget_seq_logp=True)
