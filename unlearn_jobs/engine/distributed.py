"""Where the training step runs: one process (the plain torch path), or a process group under accelerate's
`Accelerator` — DDP, FSDP2 (full sharding) or DeepSpeed ZeRO-3. The runner calls the same methods either
way; only `Accelerated` talks to a process group, and every collective in it is accelerate's or torch's."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import (
    DeepSpeedPlugin,
    DistributedType,
    FullyShardedDataParallelPlugin,
    broadcast_object_list,
    is_deepspeed_available,
)
from torch.distributed.fsdp import MixedPrecisionPolicy

from unlearn_jobs.engine.capacity import choose_strategy, model_shape
from unlearn_jobs.engine.checkpoint import capture_rng, restore_rng
from unlearn_jobs.engine.forward import SideModel
from unlearn_jobs.engine.spec import UnlearnSpec


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


class Single:
    """World size 1: no wrapper and no collective, exactly the loop CI, the demo and one GPU run."""

    rank, world_size, is_main, strategy, shards_parameters = 0, 1, True, "single", False

    def __init__(self, device: torch.device):
        self.device = device
        self.inner = self.side = self.optimizer = self.scheduler = None

    def prepare(self, inner, optimizer, scheduler) -> SideModel:
        self.inner, self.optimizer, self.scheduler = inner, optimizer, scheduler
        self.side = SideModel(inner)
        return self.side

    def no_sync(self, last_micro_batch: bool):
        return nullcontext()

    def backward(self, loss: torch.Tensor, grad_accum: int) -> None:
        (loss / grad_accum).backward()

    def clip(self, params: list[torch.nn.Parameter], max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(params, max_norm)

    def barrier(self) -> None:
        pass

    def agree(self, reason: str | None) -> str | None:
        return reason

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        return values

    def total(self, count: int) -> int:
        return count

    def runtime(self, precision: str) -> dict[str, Any]:
        return {"device": self.device.type, "precision": precision}

    def save_body(self, directory: Path) -> dict[str, Any]:
        """The checkpoint's content, all in state.pt: trainable weights, optimiser, scheduler, RNG."""
        return {
            "trainable": {
                n: p.detach().cpu().clone() for n, p in self.inner.named_parameters() if p.requires_grad
            },
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": capture_rng(),
        }

    def load_body(self, directory: Path, payload: dict[str, Any]) -> None:
        params = dict(self.inner.named_parameters())
        with torch.no_grad():
            for name, value in payload["trainable"].items():
                params[name].copy_(value)
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        restore_rng(payload["rng"])

    def final_model(self, rebuild: Callable[[], Any]):
        """The trained model, whole, for the artifact (None on processes that do not write it)."""
        return self.inner


def fsdp_plugin(spec: UnlearnSpec, bf16: bool, decoder_layer: str) -> FullyShardedDataParallelPlugin:
    return FullyShardedDataParallelPlugin(
        fsdp_version=2,
        reshard_after_forward=True,  # FULL_SHARD: parameters, gradients and optimiser state all sharded
        auto_wrap_policy="transformer_based_wrap",
        transformer_cls_names_to_wrap=[decoder_layer],
        # bf16 compute and all-gathers, fp32 gradient reduction; shards keep the loaded dtype
        mixed_precision_policy=MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if bf16
        else None,
        activation_checkpointing=spec.parallel.activation_checkpointing,
        cpu_offload=spec.parallel.cpu_offload,
        state_dict_type="SHARDED_STATE_DICT",  # checkpoints: one shard per rank (torch.distributed.checkpoint)
        cpu_ram_efficient_loading=False,  # every rank reads the parent; see docs/capacity.md
    )


def deepspeed_plugin(spec: UnlearnSpec, bf16: bool) -> DeepSpeedPlugin:
    if not is_deepspeed_available():
        raise ValueError("parallel.strategy 'deepspeed' needs the deepspeed package (pip install deepspeed)")
    offload = "cpu" if spec.parallel.cpu_offload else "none"
    return DeepSpeedPlugin(
        zero_stage=3,
        gradient_accumulation_steps=spec.grad_accum,
        gradient_clipping=spec.max_grad_norm,
        offload_optimizer_device=offload,
        offload_param_device=offload,
        zero3_init_flag=False,
        zero3_save_16bit_model=False,
    )


class Accelerated:
    """A process group (WORLD_SIZE > 1, started by torchrun or `accelerate launch`): each process takes
    its share of the micro-batches, accelerate wraps the model and synchronises gradients."""

    def __init__(self, spec: UnlearnSpec, bf16: bool):
        cpu = spec.device == "cpu" or not torch.cuda.is_available()
        shape = model_shape(spec.model_dir)
        strategy = spec.parallel.strategy
        if strategy == "auto":
            memory = None if cpu else torch.cuda.get_device_properties(0).total_memory
            strategy = choose_strategy(shape, spec.mode, memory)
        kwargs: dict[str, Any] = {}
        if strategy == "fsdp":
            kwargs["fsdp_plugin"] = fsdp_plugin(spec, bf16, shape.decoder_layer)
        elif strategy == "deepspeed":
            kwargs["deepspeed_plugin"] = deepspeed_plugin(spec, bf16)
        # our own autocast wraps the forwards (the same numerics as one process); the scheduler is
        # stepped by us, once per optimiser step, not once per process
        self.accelerator = Accelerator(
            cpu=cpu, mixed_precision="no", step_scheduler_with_optimizer=False, **kwargs
        )
        wanted = {"fsdp": DistributedType.FSDP, "deepspeed": DistributedType.DEEPSPEED}.get(strategy)
        if wanted is not None and self.accelerator.distributed_type != wanted:
            # accelerate turns FSDP on only for GPU-like process groups: on CPU it would quietly run DDP
            raise ValueError(
                f"parallel.strategy {strategy!r} needs GPUs; this process group is {self.accelerator.distributed_type}"
            )
        self.strategy = strategy
        self.shards_parameters = strategy in ("fsdp", "deepspeed")
        self.device = self.accelerator.device
        self.rank, self.world_size = self.accelerator.process_index, self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process
        self.inner = self.side = self.optimizer = self.scheduler = None

    def prepare(self, inner, optimizer, scheduler):
        self.inner, self.scheduler = inner, scheduler
        self.side, self.optimizer = self.accelerator.prepare(SideModel(inner), optimizer)
        self.accelerator.register_for_checkpointing(scheduler)
        if self.strategy == "ddp":  # a LoRA checkpoint holds the adapters, not a copy of the frozen base
            self.accelerator.register_save_state_pre_hook(_trainable_weights_only)
        return self.side

    def no_sync(self, last_micro_batch: bool):
        """Gradients are reduced once per optimiser step, on its last micro-batch."""
        if last_micro_batch or self.strategy == "deepspeed":
            return nullcontext()
        return self.accelerator.no_sync(self.side)

    def backward(self, loss: torch.Tensor, grad_accum: int) -> None:
        # DeepSpeed divides by its own gradient_accumulation_steps (set to grad_accum) and steps itself
        self.accelerator.backward(loss if self.strategy == "deepspeed" else loss / grad_accum)

    def clip(self, params: list[torch.nn.Parameter], max_norm: float) -> None:
        if self.strategy != "deepspeed":  # DeepSpeed clips with its gradient_clipping setting
            self.accelerator.clip_grad_norm_(self.side.parameters(), max_norm)

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def agree(self, reason: str | None) -> str | None:
        """Every process stops for the main process's reason (its progress callback may cancel)."""
        return broadcast_object_list([reason], from_process=0)[0]

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Logged figures over every process's micro-batches, as one process would have logged them."""
        return self.accelerator.reduce(values.to(self.device), reduction="mean")

    def total(self, count: int) -> int:
        return int(self.accelerator.reduce(torch.tensor(count, device=self.device), reduction="sum"))

    def runtime(self, precision: str) -> dict[str, Any]:
        return {
            "device": self.device.type,
            "precision": precision,
            "world_size": self.world_size,
            "strategy": self.strategy,
        }

    def save_body(self, directory: Path) -> dict[str, Any]:
        """accelerate's save_state: model (sharded under FSDP/DeepSpeed), optimiser, the scheduler and
        every process's RNG states. Called on every process."""
        self.accelerator.save_state(str(directory / "accelerate"), safe_serialization=True)
        return {"body": "accelerate"}

    def load_body(self, directory: Path, payload: dict[str, Any]) -> None:
        extra = {"strict": False} if self.strategy == "ddp" else {}  # DDP LoRA saved only the adapters
        self.accelerator.load_state(str(directory / "accelerate"), **extra)

    def final_model(self, rebuild: Callable[[], Any]):
        """DDP: every process holds the whole trained model. Sharded: the full state dict is gathered to
        the main process (a collective) and loaded into `rebuild()`, an unsharded copy of the model's
        structure (LoRA: with the same adapters) in host memory."""
        if not self.shards_parameters:
            return self.inner if self.is_main else None
        state = self.accelerator.get_state_dict(self.side)  # whole on the main process, in host memory
        if not self.is_main:
            return None
        whole = SideModel(rebuild())
        whole.load_state_dict(state, strict=True)
        return whole.model


def _trainable_weights_only(models, weights, output_dir) -> None:
    for model, state in zip(models, weights, strict=False):
        keep = {name for name, param in model.named_parameters() if param.requires_grad}
        for name in [name for name in state if name not in keep]:
            del state[name]


def setup(spec: UnlearnSpec, device: torch.device, bf16: bool) -> Single | Accelerated:
    """One process unless launched as a process group (WORLD_SIZE > 1)."""
    if world_size() <= 1:
        return Single(device)
    return Accelerated(spec, bf16)
