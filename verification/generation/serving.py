"""The production model as the generation endpoint serves it: loaded from the pointer file that publish
writes, and loaded again when that file names another version (checked on every call: one stat)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from palimpsest.ml.generation import greedy_continue, sample_continue
from palimpsest.ml.loading import LoadedModel, load_causal_lm
from unlearn_jobs.registry.selectors import production_version
from verification.releases.pointer import pointer_path, pointer_read, pointer_write


class NoProductionModel(Exception):
    pass


@dataclass
class _Loaded:
    mtime_ns: int
    version: int
    artifact_sha256: str
    lm: LoadedModel


class ProductionModel:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def current(self) -> _Loaded:
        if not pointer_path().is_file():
            # Before the first publish only the registry knows production (the base model).
            production = production_version()
            if production is None:
                raise NoProductionModel("No model version is published yet.")
            pointer_write(version=production)
        mtime_ns = pointer_path().stat().st_mtime_ns
        with self._lock:
            if self._loaded is None or self._loaded.mtime_ns != mtime_ns:
                pointer = pointer_read()
                if pointer is None:
                    raise NoProductionModel("The production pointer cannot be read.")
                if self._loaded is None or self._loaded.artifact_sha256 != pointer["artifact_sha256"]:
                    lm = load_causal_lm(pointer["artifact_path"])
                else:
                    lm = self._loaded.lm
                self._loaded = _Loaded(mtime_ns, pointer["version"], pointer["artifact_sha256"], lm)
            return self._loaded

    def generate(self, *, prompt: str, max_new_tokens: int, temperature: float) -> tuple[int, str]:
        loaded = self.current()
        if temperature <= 0:
            text = greedy_continue(loaded.lm, [prompt], max_new_tokens=max_new_tokens)[0]
        else:
            text = sample_continue(
                loaded.lm,
                [prompt],
                n=1,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                seed=secrets.randbelow(2**31),
            )[0][0]
        return loaded.version, text


PRODUCTION = ProductionModel()
