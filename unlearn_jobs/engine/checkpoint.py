"""Atomic training checkpoints: trainable weights, optimiser, scheduler, RNG states, step and history.

Each checkpoint is written into a temporary directory and renamed, so a kill mid-write leaves either the
previous checkpoint or the new one, never half of one. One process writes everything into state.pt; a
process group writes accelerate's (sharded) state beside a state.pt that holds the rest.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 1
_NAME = re.compile(r"^step-(\d{8})$")


def capture_rng() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpointer:
    """`fingerprint` names the job (settings and items): another job's checkpoint is an error. `runtime`
    says where it runs (device type, precision): a checkpoint from another runtime is skipped, not resumed.
    """

    def __init__(self, root: Path, fingerprint: str, keep: int, runtime: dict[str, str]):
        self.root, self.fingerprint, self.keep, self.runtime = Path(root), fingerprint, keep, dict(runtime)

    def latest(self) -> Path | None:
        if not self.root.is_dir():
            return None
        found = sorted(p for p in self.root.iterdir() if _NAME.match(p.name) and (p / "state.pt").is_file())
        return found[-1] if found else None

    def save(self, step: int, runtime_io, extra: dict[str, Any]) -> Path:
        """`runtime_io` (distributed.Single or Accelerated) writes the body; with a process group every
        process calls this, the main one alone writes state.pt and renames, so state.pt marks a whole
        checkpoint."""
        final = self.root / f"step-{step:08d}"
        tag = os.getpid() if runtime_io.world_size == 1 else "group"  # all processes write one directory
        tmp = self.root / f".tmp-step-{step:08d}-{tag}"
        if runtime_io.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
        runtime_io.barrier()
        body = runtime_io.save_body(tmp)
        runtime_io.barrier()
        if runtime_io.is_main:
            payload = {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "runtime": self.runtime,
                "step": step,
                **body,
                **extra,
            }
            with open(tmp / "state.pt", "wb") as handle:
                torch.save(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if final.exists():  # a re-run reached the same step: the new one replaces it
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.root)
            self._prune()
        runtime_io.barrier()
        return final

    def load(self, path: Path, runtime_io) -> dict[str, Any] | None:
        """Restore the checkpoint into model, optimiser, scheduler and RNGs and return its payload; None
        (nothing restored) when it was written on another runtime (device type, precision, process count
        or strategy)."""
        payload = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
        if payload.get("format") != FORMAT:
            raise ValueError(f"checkpoint {path} has an unknown format")
        if payload["fingerprint"] != self.fingerprint:
            raise ValueError(f"checkpoint {path} was written for a different spec (method, data or settings)")
        if payload.get("runtime") != self.runtime:  # checkpoints from before runtimes were recorded, too
            return None
        runtime_io.load_body(path, payload)
        return payload

    def _prune(self) -> None:
        found = sorted(p for p in self.root.iterdir() if _NAME.match(p.name))
        for old in found[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def clear(self) -> None:
        if self.root.is_dir():
            for path in self.root.iterdir():
                if _NAME.match(path.name) or path.name.startswith(".tmp-step-"):
                    shutil.rmtree(path, ignore_errors=True)
