"""Gradient ascent: raise the NLL of the forget answers. Diverges quickly; a baseline only."""

from __future__ import annotations

from dataclasses import dataclass, field

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class GAConfig:
    gamma: float = field(default=1.0, metadata={"help": "γ, weight of the forget term"})

    def __post_init__(self):
        if self.gamma <= 0:
            raise ValueError("gamma must be positive")


def ga_loss(batch: ForgetRetainBatch, cfg: GAConfig) -> Losses:
    forget_nll = batch.forget.nll
    total = -cfg.gamma * forget_nll
    return make_losses(total, {"forget/nll": forget_nll})


GA = Method(name="ga", config_cls=GAConfig, loss=ga_loss, uses_retain=False)
