"""Gradient ascent on the forget answers with a KL(π_ref ‖ π_θ) anchor on the retain answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class KLConfig:
    gamma: float = field(default=1.0, metadata={"help": "γ, weight of the forget term"})
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain KL"})

    def __post_init__(self):
        if self.gamma <= 0 or self.alpha < 0:
            raise ValueError("gamma must be positive and alpha non-negative")


def retain_kl(ref_logp: Tensor, logp: Tensor) -> Tensor:
    """Mean over target tokens of Σ_v p_ref (log p_ref − log p_θ)."""
    return (ref_logp.exp() * (ref_logp - logp)).sum(-1).mean()


def kl_loss(batch: ForgetRetainBatch, cfg: KLConfig) -> Losses:
    forget_nll = batch.forget.nll
    kl = retain_kl(batch.retain.ref_target_logp_full, batch.retain.target_logp_full)
    total = -cfg.gamma * forget_nll + cfg.alpha * kl
    return make_losses(total, {"forget/nll": forget_nll, "retain/kl": kl, "retain/nll": batch.retain.nll})


KL = Method(name="kl", config_cls=KLConfig, loss=kl_loss, retain_dist=True)
