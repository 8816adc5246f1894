"""Load a Hugging Face causal LM directory (weights + tokenizer) for scoring and generation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class LoadedModel:
    """A causal LM in eval mode with its tokenizer and the device it lives on."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    model_dir: Path | None = None

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def eos_id(self) -> int | None:
        eos = self.tokenizer.eos_token_id
        return None if eos is None else int(eos)


def wrap_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, device: str = "cpu"
) -> LoadedModel:
    """Wrap an in-memory model (e.g. one being trained) so the scoring helpers accept it."""
    if tokenizer.pad_token_id is None:
        # Models without a pad token (GPT-2 style) pad with eos; padded positions are masked anyway.
        tokenizer.pad_token = tokenizer.eos_token
    dev = torch.device(device)
    return LoadedModel(model=model.to(dev).eval(), tokenizer=tokenizer, device=dev)


def load_causal_lm(
    model_dir: str | Path, *, device: str = "cpu", dtype: torch.dtype | None = None
) -> LoadedModel:
    """Load weights and tokenizer from a local directory only (no hub access)."""
    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    kwargs = {"local_files_only": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    loaded = wrap_model(model, tokenizer, device=device)
    loaded.model_dir = model_dir
    return loaded
