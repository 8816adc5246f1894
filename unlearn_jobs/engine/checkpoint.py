"""Atomic training checkpoints: trainable weights, optimiser, scheduler, RNG states, step and history.

Each checkpoint is written into a temporary directory and renamed, so a kill mid-write leaves either the
previous checkpoint or the new one, never half of one.
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

    def save(self, step: int, model, optimizer, scheduler, extra: dict[str, Any]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / f"step-{step:08d}"
        tmp = self.root / f".tmp-step-{step:08d}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        payload = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "runtime": self.runtime,
            "step": step,
            "trainable": {
                n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad
            },
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": capture_rng(),
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
        return final

    def load(self, path: Path, model, optimizer, scheduler) -> dict[str, Any] | None:
        """Restore the checkpoint into model, optimiser, scheduler and RNGs and return its payload; None
        (nothing restored) when it was written on another device type or precision."""
        payload = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
        if payload.get("format") != FORMAT:
            raise ValueError(f"checkpoint {path} has an unknown format")
        if payload["fingerprint"] != self.fingerprint:
            raise ValueError(f"checkpoint {path} was written for a different spec (method, data or settings)")
        if payload.get("runtime") != self.runtime:  # checkpoints from before runtimes were recorded, too
            return None
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in payload["trainable"].items():
                params[name].copy_(value)
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        restore_rng(payload["rng"])
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
