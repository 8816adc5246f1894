"""Representation misdirection (RMU, Li et al. 2024): steer a middle layer's states on forget text
towards a fixed random direction while keeping them in place on retain text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses


@dataclass
class RMUConfig:
    layer: int | None = field(
        default=None, metadata={"help": "ℓ, decoder layer whose output is steered; None: the middle one"}
    )
    steering_coeff: float | None = field(
        default=None, metadata={"help": "c; None: steering_scale × mean norm of ℓ's states on forget text"}
    )
    steering_scale: float = field(default=5.0, metadata={"help": "β of adaptive RMU (Dang et al.)"})
    gamma: float = field(default=1.0, metadata={"help": "γ, weight of the forget MSE"})
    alpha: float = field(default=100.0, metadata={"help": "α, weight of the retain MSE"})
    update_layers: tuple[int, ...] | None = field(
        default=None,
        metadata={
            "help": "layers whose MLP down-projection trains (full) or gets an adapter (LoRA); None: ℓ-2..ℓ"
        },
    )

    def __post_init__(self):
        if self.layer is not None and self.layer < 0:
            raise ValueError("layer must not be negative")
        if self.steering_coeff is not None and self.steering_coeff <= 0:
            raise ValueError("steering_coeff must be positive")
        if self.steering_scale <= 0 or self.gamma <= 0 or self.alpha < 0:
            raise ValueError("steering_scale and gamma must be positive, alpha non-negative")
        if self.update_layers is not None:
            self.update_layers = tuple(self.update_layers)


def rmu_layer(cfg: RMUConfig, n_layers: int) -> int:
    layer = cfg.layer if cfg.layer is not None else max(n_layers // 2 - 1, 0)
    if layer >= n_layers:
        raise ValueError(f"rmu layer {layer} does not exist in a model with {n_layers} layers")
    return layer


def rmu_trainable(name: str, cfg: RMUConfig, n_layers: int) -> bool:
    layer = rmu_layer(cfg, n_layers)
    layers = cfg.update_layers if cfg.update_layers is not None else range(max(layer - 2, 0), layer + 1)
    match = re.search(r"layers\.(\d+)\.mlp\.down_proj\.weight$", name)
    return bool(match) and int(match.group(1)) in set(layers)


def rmu_init_state(cfg: RMUConfig, stats: dict[str, Any]) -> dict[str, Any]:
    """The control vector c·u: u uniform on [0, 1) then normalised, drawn from the run's seed."""
    generator = torch.Generator().manual_seed(stats["seed"])
    direction = torch.rand(stats["hidden_size"], generator=generator)
    direction = direction / direction.norm()
    coeff = (
        cfg.steering_coeff if cfg.steering_coeff is not None else cfg.steering_scale * stats["forget_norm"]
    )
    control = (coeff * direction).to(device=stats["device"], dtype=torch.float32)
    return {"control": control, "steering_coeff": float(coeff)}


def rmu_loss(batch: ForgetRetainBatch, cfg: RMUConfig) -> Losses:
    control = batch.state["control"]
    forget = (batch.forget.hidden.float() - control).pow(2).mean()
    retain = (batch.retain.hidden.float() - batch.retain.ref_hidden.float()).pow(2).mean()
    total = cfg.gamma * forget + cfg.alpha * retain
    parts = {
        "forget/rmu_mse": forget,
        "retain/rmu_mse": retain,
        "forget/nll": batch.forget.nll,
        "retain/nll": batch.retain.nll,
    }
    return make_losses(total, parts)


RMU = Method(
    name="rmu",
    config_cls=RMUConfig,
    loss=rmu_loss,
    hidden_layer=rmu_layer,
    select_trainable=rmu_trainable,
    init_state=rmu_init_state,
)
