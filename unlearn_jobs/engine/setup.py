"""Building what a run trains: the model with its adapters or trainable weights, the optimiser and the
learning-rate schedule, and where it runs (device, precision)."""

from __future__ import annotations

import math
import random
from functools import partial

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from unlearn_jobs.engine.methods import METHODS
from unlearn_jobs.engine.methods.base import Method
from unlearn_jobs.engine.spec import UnlearnSpec


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_bf16(precision: str, device: torch.device) -> bool:
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def lora_targets(model, spec: UnlearnSpec, method: Method) -> list[str]:
    """The configured projections, narrowed (as in full mode) to the weights the method chooses: RMU's
    few layers' MLP down-projections, by full module name."""
    if not method.select_trainable:
        return list(spec.lora.target_modules)
    n_layers = model.config.num_hidden_layers
    targets = [
        name
        for name, _ in model.named_modules()
        if name.rsplit(".", 1)[-1] in spec.lora.target_modules
        and method.select_trainable(f"{name}.weight", spec.method_config, n_layers)
    ]
    if not targets:
        raise ValueError(
            f"method {spec.method} selected none of lora.target_modules {list(spec.lora.target_modules)}"
        )
    return targets


def make_trainable(model, spec: UnlearnSpec, method: Method):
    """LoRA: freeze the base and add adapters; full: train the weights. A method that chooses its weights
    (RMU) gets only those, in both modes."""
    if spec.mode == "lora":
        config = LoraConfig(
            r=spec.lora.r,
            lora_alpha=spec.lora.alpha,
            lora_dropout=spec.lora.dropout,
            target_modules=lora_targets(model, spec, method),
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, config)
    n_layers = model.config.num_hidden_layers
    for name, param in model.named_parameters():
        chosen = (
            method.select_trainable(name, spec.method_config, n_layers) if method.select_trainable else True
        )
        param.requires_grad_(chosen)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"method {spec.method} selected no trainable parameter in this model")
    return model


def make_optimizer(params: list[torch.nn.Parameter], spec: UnlearnSpec) -> torch.optim.Optimizer:
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    try:  # fused AdamW: one kernel for the whole update, on CUDA and on CPU
        return torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay, foreach=True)


def lr_factor(step: int, *, schedule: str, warmup: int, total: int) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def load_model(spec: UnlearnSpec, dtype: torch.dtype, device: torch.device | None):
    """The parent with adapters (LoRA) or trainable weights chosen (full); `device` None leaves it in host
    memory for a sharding wrapper to place."""
    model = AutoModelForCausalLM.from_pretrained(spec.model_dir, dtype=dtype)
    if device is not None:
        model = model.to(device)
    return make_trainable(model, spec, METHODS[spec.method])


def make_scheduler(optimizer: torch.optim.Optimizer, spec: UnlearnSpec, total_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(lr_factor, schedule=spec.schedule, warmup=spec.warmup_steps, total=total_steps)
    )
