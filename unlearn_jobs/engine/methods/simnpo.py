"""SimNPO: reference-free, length-normalised NPO (open-unlearning defaults β=4.5, δ=0)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class SimNPOConfig:
    beta: float = field(default=4.5, metadata={"help": "inverse temperature"})
    delta: float = field(default=0.0, metadata={"help": "δ, margin subtracted inside the sigmoid"})
    gamma: float = field(default=1.0, metadata={"help": "γ, weight of the forget term"})
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain NLL"})

    def __post_init__(self):
        if self.beta <= 0 or self.gamma <= 0:
            raise ValueError("beta and gamma must be positive")
        if self.alpha < 0:
            raise ValueError("alpha must not be negative")


def simnpo_loss(batch: ForgetRetainBatch, cfg: SimNPOConfig) -> Losses:
    mean_nll = -batch.forget.seq_logp / batch.forget.seq_len  # NLL_sum(y) / len(y) per item
    forget = -(2 / cfg.beta) * F.logsigmoid(cfg.beta * mean_nll - cfg.delta).mean()
    retain = batch.retain.nll
    total = cfg.gamma * forget + cfg.alpha * retain
    parts = {"forget/simnpo": forget, "forget/nll": batch.forget.nll, "retain/nll": retain}
    return make_losses(total, parts)


SIMNPO = Method(name="simnpo", config_cls=SimNPOConfig, loss=simnpo_loss)
