"""One batched forward (and one partial backward) per batch of items: everything screening needs from the model.

From the same pass: per-token statistics (membership scores), the penultimate layer's hidden state at
the last token (UPCORE coreset), and the gradient cosine with the retain set (predicted damage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from palimpsest.ml.batching import IGNORE_INDEX, collate, encode_texts
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.membership import MembershipScores, scores_from_stats
from palimpsest.ml.scoring import iter_sorted_batches, stats_from_logits
from requests_app.screening.checks.damage import (
    GradientProbe,
    RetainGradient,
    grad_only_last_block,
    per_item_nll_sum,
    retain_gradient,
)

MIN_K = 0.2


@dataclass
class ModelPass:
    scores: list[MembershipScores]
    hidden: np.ndarray  # (n, hidden_size) penultimate layer, last real token
    grad_cosine: list[float | None]


def model_pass(
    lm: LoadedModel,
    texts: Sequence[str],
    *,
    retain: RetainGradient | None = None,
    batch_size: int = 32,
    max_length: int = 256,
) -> ModelPass:
    """Score every text once; with `retain`, also the gradient cosine (the backward stops at the last block)."""
    items = encode_texts(lm.tokenizer, texts, max_length=max_length)
    width = int(lm.model.config.hidden_size)
    scores: list[MembershipScores | None] = [None] * len(items)
    hidden = np.zeros((len(items), width), dtype=np.float32)
    cosines: list[float | None] = [None] * len(items)
    for idx, chunk in iter_sorted_batches(items, batch_size):
        batch = collate(chunk, pad_id=lm.pad_id).to(lm.device)
        if retain is None:
            with torch.no_grad():
                out = lm.model(
                    input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True
                )
            logits, batch_cos = out.logits, [None] * len(idx)
        else:
            with grad_only_last_block(lm.model) as linears, GradientProbe(linears) as probe:
                out = lm.model(
                    input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True
                )
                per_item_nll_sum(out.logits, batch.labels).backward()
                batch_cos = probe.cosines(retain)
            logits = out.logits.detach()
        last = batch.attention_mask.sum(-1) - 1
        rows = out.hidden_states[-2].detach()[torch.arange(len(chunk), device=lm.device), last]
        hidden[idx] = rows.float().cpu().numpy()
        pred, labels = logits[:, :-1], batch.labels[:, 1:]
        for row, original in enumerate(idx):
            keep = labels[row] != IGNORE_INDEX
            stats = stats_from_logits(pred[row][keep], labels[row][keep])
            scores[original] = scores_from_stats(stats, texts[original], k=MIN_K)
            cosines[original] = batch_cos[row]
    return ModelPass(scores=scores, hidden=hidden, grad_cosine=cosines)  # type: ignore[arg-type]


def retain_gradient_of_texts(
    lm: LoadedModel, texts: Sequence[str], *, max_length: int = 256
) -> RetainGradient:
    batch = collate(encode_texts(lm.tokenizer, texts, max_length=max_length), pad_id=lm.pad_id).to(lm.device)
    return retain_gradient(lm.model, batch)
