"""Gradient difference: ascend on the forget answers, descend on the retain answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class GradDiffConfig:
    gamma: float = field(default=1.0, metadata={"help": "γ, weight of the forget term"})
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain NLL"})

    def __post_init__(self):
        if self.gamma <= 0 or self.alpha < 0:
            raise ValueError("gamma must be positive and alpha non-negative")


def grad_diff_loss(batch: ForgetRetainBatch, cfg: GradDiffConfig) -> Losses:
    forget_nll = batch.forget.nll
    retain_nll = batch.retain.nll
    total = -cfg.gamma * forget_nll + cfg.alpha * retain_nll
    return make_losses(total, {"forget/nll": forget_nll, "retain/nll": retain_nll})


GRAD_DIFF = Method(name="grad_diff", config_cls=GradDiffConfig, loss=grad_diff_loss)
