"""Memory and FLOP estimates of a training job from the model's shape: what `parallel.strategy="auto"`
uses to choose DDP or FSDP, and what docs/capacity.md is computed from (benchmarks/capacity_plan.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, AutoConfig

GiB = 1 << 30
# Activation bytes per token per layer of a transformer layer in 16-bit without recomputation, with a fused
# (flash / SDPA) attention kernel, so no sequence-squared term: Korthikanti et al. 2022, "Reducing
# Activation Recomputation in Large Transformer Models", eq. 1 without the 5·a·s/h attention-score term.
ACTIVATION_BYTES_PER_TOKEN_PER_HIDDEN = 34
HEADROOM = 0.85  # share of a device's memory a plan may fill (allocator fragmentation, CUDA context)
LORA_RANK = 8


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = False
    decoder_layer: str = "LlamaDecoderLayer"

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def params(self) -> int:
        """Llama-style: attention q, k, v, o; gated MLP; two norms per layer; embeddings and head."""
        d, kv = self.hidden, self.kv_heads * self.head_dim
        per_layer = d * d * 2 + d * kv * 2 + 3 * d * self.intermediate + 2 * d
        embeddings = self.vocab * d * (1 if self.tied else 2)
        return self.layers * per_layer + embeddings + d

    def lora_params(self, rank: int = LORA_RANK) -> int:
        """Adapters of rank r on q, k, v, o, gate, up, down: r·(in + out) per adapted matrix."""
        d, kv, ffn = self.hidden, self.kv_heads * self.head_dim, self.intermediate
        per_layer = rank * (2 * (d + d) + 2 * (d + kv) + 3 * (d + ffn))
        return self.layers * per_layer


def model_shape(model_dir: Path) -> ModelShape:
    """The shape from config.json (no weights read)."""
    config = AutoConfig.from_pretrained(model_dir)
    layer_names = (
        getattr(MODEL_FOR_CAUSAL_LM_MAPPING.get(type(config), None), "_no_split_modules", None) or []
    )
    raw = json.loads((Path(model_dir) / "config.json").read_text())
    heads = config.num_attention_heads
    return ModelShape(
        hidden=config.hidden_size,
        layers=config.num_hidden_layers,
        intermediate=getattr(config, "intermediate_size", 4 * config.hidden_size),
        heads=heads,
        kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        vocab=config.vocab_size,
        tied=bool(raw.get("tie_word_embeddings", False)),
        decoder_layer=layer_names[0] if layer_names else "LlamaDecoderLayer",
    )


@dataclass(frozen=True)
class MemoryPlan:
    weights: float  # bytes per device: parameters as stored (LoRA: 16-bit base + fp32 adapters)
    gradients_and_optimizer: float  # fp32 gradients + AdamW's two moments of what trains
    activations: float
    logits: float
    reference_model: float  # a resident frozen reference copy (0 in this engine: outputs are cached)

    @property
    def total(self) -> float:
        return (
            self.weights
            + self.gradients_and_optimizer
            + self.activations
            + self.logits
            + self.reference_model
        )


def memory_per_device(
    shape: ModelShape,
    mode: str,
    *,
    shards: int = 1,
    micro_batch_tokens: int = 8 * 128,
    target_tokens: int = 8 * 32,
    checkpointing: bool = True,
    resident_reference: bool = False,
) -> MemoryPlan:
    """Bytes per device for one micro-batch. `shards` = devices the model state is split over (1: DDP,
    N: FSDP full sharding / ZeRO-3). LoRA keeps the base in bf16; full mode keeps fp32 master weights
    under bf16 autocast (this engine's choice), so full mode costs 16 bytes per parameter before
    activations. A resident reference model would be a bf16 copy, sharded like the rest."""
    n, lora = shape.params, shape.lora_params()
    if mode == "lora":
        weights = (2 * n + 4 * lora) / shards
        optimizer = 12 * lora / shards
    else:
        weights = 4 * n / shards
        optimizer = 12 * n / shards
    d, layers = shape.hidden, shape.layers
    per_layer = ACTIVATION_BYTES_PER_TOKEN_PER_HIDDEN * micro_batch_tokens * d
    if checkpointing:  # each layer's bf16 input kept, one layer's activations live during recomputation
        activations = layers * micro_batch_tokens * d * 2 + per_layer
    else:
        activations = layers * per_layer
    logits = target_tokens * shape.vocab * 4 * 3  # fp32 logits, log-softmax and their gradient
    reference = 2 * n / shards if resident_reference else 0.0
    return MemoryPlan(weights, optimizer, activations, logits, reference)


def training_flops_per_token(shape: ModelShape, mode: str, *, checkpointing: bool) -> float:
    """Matmul FLOPs per trained token: forward 2P, backward 4P in full mode; LoRA's backward needs the
    input gradients (2P) but no weight gradients of the frozen base; recomputation adds a forward."""
    forward = 2 * shape.params
    backward = 4 * shape.params if mode == "full" else 2 * shape.params
    return forward + backward + (forward if checkpointing else 0)


def choose_strategy(shape: ModelShape, mode: str, device_memory: int | None) -> str:
    """DDP when a whole copy of the training state fits one device, else FSDP. On CPU: DDP."""
    if device_memory is None:
        return "ddp"
    plan = memory_per_device(shape, mode, checkpointing=False)
    return "ddp" if plan.total <= HEADROOM * device_memory else "fsdp"
