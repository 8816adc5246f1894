"""What an unlearning run is asked to do (`UnlearnSpec`) and what it reports back (`UnlearnResult`).

Every check that can be made before a model is loaded is made here, so a bad job fails in milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_jobs.engine.items import TextItem
from unlearn_jobs.engine.methods import METHODS

MODES = ("lora", "full")
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")
STRATEGIES = ("auto", "ddp", "fsdp", "deepspeed")

ProgressCallback = Callable[[int, int, dict[str, float]], "bool | None"]


@dataclass
class LoraSettings:
    r: int = field(default=8, metadata={"help": "adapter rank"})
    alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the adapter input"})
    target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        metadata={"help": "module names that get adapters (attention and MLP projections)"},
    )

    def __post_init__(self):
        if self.r <= 0 or self.alpha <= 0:
            raise ValueError("lora.r and lora.alpha must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("lora.dropout must be in [0, 1)")
        if not self.target_modules:
            raise ValueError("lora.target_modules must name at least one module")
        self.target_modules = tuple(self.target_modules)


@dataclass
class StopRules:
    forget_nll_target: float | None = field(
        default=None, metadata={"help": "stop once forget/nll has been >= this for `patience` steps"}
    )
    patience: int = field(default=1, metadata={"help": "M: consecutive steps at the forget target"})
    max_retain_nll: float | None = field(
        default=None, metadata={"help": "collapse guard: stop and report when retain/nll exceeds this"}
    )
    max_retain_nll_rise: float | None = field(
        default=None, metadata={"help": "collapse guard: allowed rise of retain/nll over the initial model's"}
    )

    def __post_init__(self):
        if self.patience < 1:
            raise ValueError("stop.patience must be at least 1")
        for name in ("forget_nll_target", "max_retain_nll", "max_retain_nll_rise"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"stop.{name} must be a finite non-negative number")

    @property
    def guards_retain(self) -> bool:
        return self.max_retain_nll is not None or self.max_retain_nll_rise is not None


@dataclass
class ParallelSettings:
    """How a job launched as a process group (WORLD_SIZE > 1) shares the work; ignored by one process."""

    strategy: str = field(
        default="auto",
        metadata={
            "help": "ddp (a model copy per GPU), fsdp (sharded: FSDP2, full sharding), deepspeed (ZeRO-3, "
            "needs the deepspeed package); auto: ddp when the capacity estimate fits one device, else fsdp"
        },
    )
    activation_checkpointing: bool = field(
        default=True, metadata={"help": "fsdp/deepspeed: recompute each decoder layer in the backward pass"}
    )
    cpu_offload: bool = field(default=False, metadata={"help": "fsdp/deepspeed: keep shards in host memory"})

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"parallel.strategy must be one of {STRATEGIES}, not {self.strategy!r}")


@dataclass
class UnlearnSpec:
    model_dir: Path = field(
        metadata={"help": "Hugging Face causal LM directory (config, weights, tokenizer)"}
    )
    forget_items: Sequence[TextItem] = field(metadata={"help": "what the model must forget"})
    output_dir: Path = field(metadata={"help": "where the artifact directory is created (atomically)"})
    retain_items: Sequence[TextItem] = field(default=(), metadata={"help": "what the model must keep"})
    method: str = field(default="npo", metadata={"help": "key of METHODS"})
    method_config: Any = field(default=None, metadata={"help": "the method's config dataclass or a dict"})
    mode: str = field(default="lora", metadata={"help": "lora (adapters, merged on output) or full"})
    lora: LoraSettings = field(default_factory=LoraSettings)
    optimizer: str = field(default="adamw", metadata={"help": "adamw (fused where available) or sgd"})
    learning_rate: float = field(default=1e-4)
    weight_decay: float = field(default=0.0)
    schedule: str = field(default="constant", metadata={"help": "constant, linear or cosine decay"})
    warmup_steps: int = field(default=0)
    max_steps: int | None = field(default=None, metadata={"help": "optimiser steps; or set epochs"})
    epochs: float | None = field(default=None, metadata={"help": "passes over the forget set"})
    min_steps: int = field(
        default=0,
        metadata={"help": "with epochs: at least this many optimiser steps (a small job's epochs are few)"},
    )
    forget_batch_size: int = field(default=8)
    retain_batch_size: int = field(default=8)
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimiser step"})
    max_grad_norm: float | None = field(default=1.0)
    max_length: int = field(default=512, metadata={"help": "tokens per item after truncation"})
    mask_protected: bool = field(
        default=True,
        metadata={"help": "forget items' protected strings (the name) are context, never loss targets"},
    )
    seed: int = field(default=0)
    device: str = field(
        default="auto", metadata={"help": "auto (CUDA when present, else CPU), cpu, cuda[:n]"}
    )
    precision: str = field(default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU), fp32, bf16"})
    checkpoint_dir: Path | None = field(default=None, metadata={"help": "where checkpoints go; None: none"})
    checkpoint_every: int = field(default=50, metadata={"help": "K: optimiser steps between checkpoints"})
    keep_checkpoints: int = field(default=2)
    resume: bool = field(default=True, metadata={"help": "continue from the last checkpoint when one exists"})
    log_every: int = field(default=10, metadata={"help": "N: steps between host syncs (logs, stop checks)"})
    progress: ProgressCallback | None = field(
        default=None,
        metadata={"help": "called (step, total_steps, figures) every log; return False to cancel"},
    )
    stop: StopRules = field(default_factory=StopRules)
    parallel: ParallelSettings = field(
        default_factory=ParallelSettings,
        metadata={"help": "process groups only; where a job runs, not what it computes (not in describe())"},
    )
    ref_cache_max_bytes: int = field(
        default=2 << 30,
        metadata={"help": "above this, reference outputs are recomputed per step, not cached"},
    )
    compile: bool = field(default=False, metadata={"help": "torch.compile the model (helps on GPU only)"})
    parent_model_sha256: str | None = field(default=None, metadata={"help": "skip hashing the parent"})
    write_artifact: bool = field(default=True)

    def __post_init__(self):
        self.model_dir = Path(self.model_dir)
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        if isinstance(self.stop, dict):
            self.stop = StopRules(**self.stop)
        if isinstance(self.parallel, dict):
            self.parallel = ParallelSettings(**self.parallel)
        self.output_dir = Path(self.output_dir)
        if not self.model_dir.is_dir() or not (self.model_dir / "config.json").is_file():
            raise ValueError(f"model_dir {self.model_dir} is missing or has no config.json")
        self.forget_items = tuple(self.forget_items)
        self.retain_items = tuple(self.retain_items)
        if not self.forget_items:
            raise ValueError("forget_items is empty: there is nothing to unlearn")
        for side, items in (("forget_items", self.forget_items), ("retain_items", self.retain_items)):
            if not all(isinstance(item, TextItem) for item in items):
                raise ValueError(f"{side} must hold TextItem objects")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {sorted(METHODS)}")
        method = METHODS[self.method]
        if self.method_config is None:
            self.method_config = method.config_cls()
        elif isinstance(self.method_config, dict):
            try:
                self.method_config = method.config_cls(**self.method_config)
            except TypeError as error:  # an unknown field name
                raise ValueError(f"method_config for {self.method}: {error}") from None
        elif not isinstance(self.method_config, method.config_cls):
            raise ValueError(f"method_config for {self.method} must be a {method.config_cls.__name__}")
        if method.uses_retain and not self.retain_items:
            raise ValueError(f"method {self.method} needs retain_items")
        if self.stop.guards_retain and not self.retain_items:
            raise ValueError("the retain NLL guard needs retain_items")
        if self.stop.forget_nll_target is not None and not method.logs_forget_nll:
            raise ValueError(f"method {self.method} does not log forget/nll; forget_nll_target cannot apply")
        self._check_choices()
        self._check_numbers()

    def _check_choices(self):
        for name, allowed in (
            ("mode", MODES),
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu or cuda[:n], not {self.device!r}")

    def _check_numbers(self):
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate}")
        if self.weight_decay < 0:
            raise ValueError("weight_decay must not be negative")
        if (self.max_steps is None) == (self.epochs is None):
            raise ValueError("set exactly one of max_steps and epochs")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if self.epochs is not None and not self.epochs > 0:
            raise ValueError("epochs must be positive")
        if self.min_steps < 0:
            raise ValueError("min_steps must not be negative")
        for name in (
            "forget_batch_size",
            "retain_batch_size",
            "grad_accum",
            "max_length",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_length < 2:
            raise ValueError("max_length must be at least 2")
        if self.warmup_steps < 0:
            raise ValueError("warmup_steps must not be negative")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError("max_grad_norm must be positive or None")
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = Path(self.checkpoint_dir)

    def describe(self) -> dict[str, Any]:
        """The settings that define the run, without items or callables: for manifests and checkpoints."""
        return {
            "method": self.method,
            "method_config": dataclasses.asdict(self.method_config),
            "mode": self.mode,
            "lora": dataclasses.asdict(self.lora) if self.mode == "lora" else None,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "warmup_steps": self.warmup_steps,
            "max_steps": self.max_steps,
            "epochs": self.epochs,
            "min_steps": self.min_steps,
            "forget_batch_size": self.forget_batch_size,
            "retain_batch_size": self.retain_batch_size,
            "grad_accum": self.grad_accum,
            "max_grad_norm": self.max_grad_norm,
            "max_length": self.max_length,
            "mask_protected": self.mask_protected,
            "seed": self.seed,
            "stop": dataclasses.asdict(self.stop),
        }


@dataclass
class UnlearnResult:
    artifact_dir: Path | None  # None when the run stopped on the collapse guard or write_artifact=False
    steps_done: int
    total_steps: int
    stop_reason: str  # max_steps | forget_target_reached | retain_budget_exceeded | cancelled
    final_figures: dict[str, float]
    history: list[dict[str, float]]  # one row per log: {"step": s, "forget/nll": ..., ...}
    resumed_from_step: int = 0
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.stop_reason in ("max_steps", "forget_target_reached")
