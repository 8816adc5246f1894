"""The capacity plan of docs/capacity.md: memory per GPU, tokens per request, GPU-hours per 1 000 requests
and the wall time of a daily batch, for 7 B, 13 B and 70 B Llama-shaped models, computed from FLOP counts
(unlearn_jobs/engine/capacity.py) and the constants below, each of which says where it comes from.

    .venv/bin/python benchmarks/capacity_plan.py > /tmp/plan.md   # the tables pasted into docs/capacity.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unlearn_jobs.engine.capacity import (
    HEADROOM,
    ModelShape,
    memory_per_device,
    training_flops_per_token,
)

MODELS = {  # published configs: Llama-2 7B and 13B, Llama-3 70B
    "7B": ModelShape(hidden=4096, layers=32, intermediate=11008, heads=32, kv_heads=32, vocab=32000),
    "13B": ModelShape(hidden=5120, layers=40, intermediate=13824, heads=40, kv_heads=40, vocab=32000),
    "70B": ModelShape(hidden=8192, layers=80, intermediate=28672, heads=64, kv_heads=8, vocab=128256),
}
# Measured here (docs/benchmarks/engine.md): person records of the synthetic world are 27-198 tokens,
# mean 96; the engine's length buckets pad them to 1.07x real tokens.
TOKENS_PER_ITEM, PADDING = 96, 1.07
MICRO_BATCH_ITEMS, TARGETS_PER_ITEM = 8, 32  # engine defaults; answers are about a third of a record
# Assumed (not measured here): what one request asks the engine to do.
FORGET_ITEMS_PER_REQUEST = 20  # a person's records after screening's coreset
RETAIN_ITEMS_PER_REQUEST = 64  # select_retain(n=64), as in docs/engine.md
EPOCHS = 10  # passes over the forget items (TOFU-style budget; open-unlearning's default is 10)
# Assumed GPU: H100 SXM 80 GB, 989 TFLOP/s dense bf16; 40 % MFU for training, which no run here measured
# (no GPU was lent): the CPU benchmark's 23-68 % MFU is against a CPU matmul peak and says nothing about it.
GPU_MEMORY, GPU_PEAK, TRAIN_MFU = 80 * 10**9, 989e12, 0.40
# Verification (eval queue), assumed: per forget item, 16 scored forward passes (efficacy, paraphrases,
# prefix attacks, membership, quantized model) of one record and 10 sampled answers of 64 tokens; decoding
# is memory-bound, modelled as 5 % MFU. The relearning attack is a training run of its own, not counted.
VERIFY_PASSES, VERIFY_SAMPLES, SAMPLE_TOKENS, DECODE_MFU = 16, 10, 64, 0.05
SIDES_WITH_GRAD = {"ga": 1, "grad_diff": 2, "npo": 2, "simnpo": 2, "kl": 2, "rmu": 2, "refusal": 2, "dpo": 3}
DAILY_REQUESTS, GPUS = 1000, 8


def train_tokens_per_request(method: str) -> float:
    """Tokens through forward and backward: each forget micro-batch with its retain partner (DPO: and
    its preferred answers), EPOCHS passes, padded."""
    sides = SIDES_WITH_GRAD[method]
    return EPOCHS * FORGET_ITEMS_PER_REQUEST * sides * TOKENS_PER_ITEM * PADDING


def reference_tokens_per_request() -> float:
    """The one forward pass over forget and retain items before training (reference outputs)."""
    return (FORGET_ITEMS_PER_REQUEST + RETAIN_ITEMS_PER_REQUEST) * TOKENS_PER_ITEM * PADDING


def strategy_for(shape: ModelShape, mode: str) -> tuple[str, int, bool]:
    """(strategy, shards, activation checkpointing) a job would use on 8 GPUs of 80 GB."""
    for shards, checkpointing in ((1, False), (1, True), (GPUS, True)):
        plan = memory_per_device(
            shape,
            mode,
            shards=shards,
            checkpointing=checkpointing,
            micro_batch_tokens=128 * MICRO_BATCH_ITEMS * 2,
        )
        if plan.total <= HEADROOM * GPU_MEMORY:
            return ("ddp" if shards == 1 else "fsdp"), shards, checkpointing
    return "fsdp+offload", GPUS, True


def gb(value: float) -> str:
    return f"{value / 1e9:.1f}"


def memory_table() -> list[str]:
    rows = [
        "| model | mode | method group | DDP, no recompute | FSDP x8, recompute | + resident reference (FSDP x8) |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for name, shape in MODELS.items():
        for mode in ("lora", "full"):
            for group, sides in (("GA", 1), ("GradDiff, NPO, SimNPO, KL, RMU, refusal", 2), ("DPO", 3)):
                tokens = 128 * MICRO_BATCH_ITEMS * sides
                targets = TARGETS_PER_ITEM * MICRO_BATCH_ITEMS * sides
                ddp = memory_per_device(
                    shape, mode, micro_batch_tokens=tokens, target_tokens=targets, checkpointing=False
                )
                fsdp = memory_per_device(
                    shape, mode, shards=GPUS, micro_batch_tokens=tokens, target_tokens=targets
                )
                resident = memory_per_device(
                    shape,
                    mode,
                    shards=GPUS,
                    micro_batch_tokens=tokens,
                    target_tokens=targets,
                    resident_reference=True,
                )
                rows.append(
                    f"| {name} | {mode} | {group} | {gb(ddp.total)} | {gb(fsdp.total)} | {gb(resident.total)} |"
                )
    return rows


def throughput_table() -> list[str]:
    rows = [
        "| model | mode | runs as | train tokens / request | train TFLOP / request | verify TFLOP / request "
        "| GPU-h / 1000 requests (train + verify) | daily batch of 1000 on 8 GPUs |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, shape in MODELS.items():
        for mode in ("lora", "full"):
            strategy, shards, checkpointing = strategy_for(shape, mode)
            per_token = training_flops_per_token(shape, mode, checkpointing=checkpointing)
            train_tokens = train_tokens_per_request("npo")
            train_flops = train_tokens * per_token + reference_tokens_per_request() * 2 * shape.params
            scored = FORGET_ITEMS_PER_REQUEST * VERIFY_PASSES * TOKENS_PER_ITEM * 2 * shape.params
            sampled = FORGET_ITEMS_PER_REQUEST * VERIFY_SAMPLES * SAMPLE_TOKENS * 2 * shape.params
            train_s = train_flops / (TRAIN_MFU * GPU_PEAK)
            verify_s = scored / (TRAIN_MFU * GPU_PEAK) + sampled / (DECODE_MFU * GPU_PEAK)
            gpu_hours = DAILY_REQUESTS * (train_s + verify_s) / 3600
            wall_h = gpu_hours / GPUS
            rows.append(
                f"| {name} | {mode} | {strategy}{' + recompute' if checkpointing else ''} | {train_tokens:,.0f} "
                f"| {train_flops / 1e12:,.0f} | {(scored + sampled) / 1e12:,.0f} "
                f"| {gpu_hours:,.1f} ({DAILY_REQUESTS * train_s / 3600:,.1f} + {DAILY_REQUESTS * verify_s / 3600:,.1f}) "
                f"| {_duration(wall_h)} |"
            )
    return rows


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def main() -> None:
    print(
        "Parameters: "
        + ", ".join(
            f"{n} {s.params / 1e9:.2f} B (LoRA r=8: {s.lora_params() / 1e6:.0f} M)" for n, s in MODELS.items()
        )
    )
    print()
    print(
        f"Memory per GPU in GB, micro-batch {MICRO_BATCH_ITEMS} items x 128 tokens per side "
        f"(over {HEADROOM:.0%} of {GPU_MEMORY / 1e9:.0f} GB does not fit):"
    )
    print()
    print("\n".join(memory_table()))
    print()
    print(
        f"Per request ({FORGET_ITEMS_PER_REQUEST} forget, {RETAIN_ITEMS_PER_REQUEST} retain items, NPO, {EPOCHS} epochs):"
    )
    print()
    print("\n".join(throughput_table()))
    print()
    print(f"Reference pass per request: {reference_tokens_per_request():,.0f} tokens, forward only, once.")


if __name__ == "__main__":
    main()
