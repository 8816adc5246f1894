"""Several GPUs through accelerate: one process per GPU (`accelerate launch`), each taking its share of
the micro-batches, gradients averaged before every optimiser step. One process is the tested path."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Distributed:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """All-reduce the gradients as one flat buffer (the LoRA case: small and fast)."""
        if not self.active:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for param, grad in zip(params, grads, strict=True):
            count = grad.numel()
            param.grad = flat[offset : offset + count].view_as(grad)
            offset += count

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def agree(self, reason: str | None) -> str | None:
        """Every process stops for the main process's reason (its progress callback may cancel)."""
        if not self.active:
            return reason
        box = [reason]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]


def setup(device: torch.device) -> Distributed:
    """Single process unless launched with several (WORLD_SIZE > 1) and several CUDA devices are visible."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or torch.cuda.device_count() <= 1:
        return Distributed(device=device)
    from accelerate import PartialState

    state = PartialState()
    return Distributed(device=state.device, rank=state.process_index, world_size=state.num_processes)
