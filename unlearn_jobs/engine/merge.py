"""LoRA merge for the published weights: the adapter is added to an fp32 copy of the parent and the sum is
cast once to the dtype the parent is stored in."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import torch
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM

SAFETENSORS_DTYPES = {
    "F32": torch.float32,
    "BF16": torch.bfloat16,
    "F16": torch.float16,
    "F64": torch.float64,
}


def stored_dtype(model_dir: Path) -> torch.dtype:
    """The floating dtype that holds most of the parent's stored weights (safetensors headers; else the
    config's dtype; else fp32, the transformers default)."""
    sizes: Counter[torch.dtype] = Counter()
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), "pt") as handle:
            for key in handle.keys():
                tensor = handle.get_slice(key)
                dtype = SAFETENSORS_DTYPES.get(tensor.get_dtype())
                if dtype is not None:
                    sizes[dtype] += math.prod(tensor.get_shape())
    if sizes:
        return sizes.most_common(1)[0][0]
    configured = getattr(AutoConfig.from_pretrained(model_dir), "dtype", None)
    if isinstance(configured, str):
        configured = getattr(torch, configured, None)
    return configured if isinstance(configured, torch.dtype) else torch.float32


def merge_lora(model: PeftModel, model_dir: Path, adapter_dir: Path):
    """The merged model in the parent's dtype.

    A bf16 training copy of an fp32 parent has already rounded the parent, and a small update added to it
    in bf16 is partly rounded away (the effect by which quantization brings forgotten data back). So when
    the trained base is not fp32, the saved adapter is applied to the parent reloaded in fp32 instead.
    """
    base_params = (p for p in model.get_base_model().parameters() if p.is_floating_point())
    if all(p.dtype == torch.float32 for p in base_params):  # an exact copy of the parent already
        merged = model.merge_and_unload()
    else:
        parent = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        merged = PeftModel.from_pretrained(parent, adapter_dir).merge_and_unload()
    return merged.to(stored_dtype(model_dir))
