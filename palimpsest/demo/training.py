"""Seeded, deterministic training of the small Llama-style demo model on the world's training texts."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from palimpsest.ml.batching import EncodedItem, collate, encode_texts


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights besides the data; hashed into cache keys."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    epochs: int
    lr: float
    batch_size: int
    max_length: int = 160
    warmup_fraction: float = 0.03
    min_lr_fraction: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def model_config(recipe: Recipe, tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        num_key_value_heads=recipe.heads,
        max_position_embeddings=max(256, recipe.max_length),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _epoch_batches(
    items: Sequence[EncodedItem], batch_size: int, rng: random.Random
) -> list[list[EncodedItem]]:
    """Shuffle, then sort within windows of 16 batches so a batch pads little but stays random."""
    order = list(range(len(items)))
    rng.shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(items[i].input_ids))
        batches += [[items[i] for i in chunk[s : s + batch_size]] for s in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _lr_factor(step: int, total: int, recipe: Recipe) -> float:
    warmup = max(1, int(total * recipe.warmup_fraction))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return recipe.min_lr_fraction + (1 - recipe.min_lr_fraction) * cosine


def default_threads() -> int:
    """All cores when the machine is idle, fewer when it is busy.

    Measured on the shared 2-core box: with other jobs running, 2 intra-op threads trained 5x slower
    than 1 (the threads wait on each other at every small kernel), so count the busy cores out.
    """
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


@dataclass(frozen=True)
class TrainResult:
    seconds: float
    tokens_seen: int
    final_loss: float
    parameters: int
    threads: int


def train_model(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    recipe: Recipe,
    out_dir: Path,
    *,
    progress: bool = False,
    threads: int | None = None,
    desc: str = "training",
) -> TrainResult:
    """Train from scratch on `texts` (each followed by <eos>) and save_pretrained to out_dir (safetensors)."""
    threads = threads or default_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    items = encode_texts(tokenizer, texts, max_length=recipe.max_length, add_eos=True)
    model = LlamaForCausalLM(model_config(recipe, tokenizer))
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr,
        betas=(0.9, 0.98),
    )
    steps_per_epoch = math.ceil(len(items) / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total, recipe))
    started, tokens, loss_value = time.monotonic(), 0, float("nan")
    bar = tqdm(total=total, desc=desc, unit="step", disable=not progress, dynamic_ncols=True)
    for _ in range(recipe.epochs):
        for chunk in _epoch_batches(items, recipe.batch_size, rng):
            batch = collate(chunk, pad_id=tokenizer.pad_token_id)
            loss = model(
                input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels
            ).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            tokens += int(batch.attention_mask.sum())
            loss_value = float(loss.detach())
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    bar.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    return TrainResult(
        seconds=time.monotonic() - started,
        tokens_seen=tokens,
        final_loss=loss_value,
        parameters=sum(p.numel() for p in model.parameters()),
        threads=threads,
    )
