"""Hidden state at the last real token of each text (UPCORE coresets use the penultimate layer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from palimpsest.ml.batching import collate, encode_texts
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.scoring import iter_sorted_batches


@torch.no_grad()
def last_token_hidden(
    lm: LoadedModel, texts: Sequence[str], *, layer: int = -2, batch_size: int = 32, max_length: int = 512
) -> np.ndarray:
    """(len(texts), hidden_size) float32; `layer` indexes hidden_states (0 = embeddings, -1 = last layer)."""
    items = encode_texts(lm.tokenizer, texts, max_length=max_length)
    width = int(lm.model.config.hidden_size)
    out = np.zeros((len(items), width), dtype=np.float32)
    for idx, chunk in iter_sorted_batches(items, batch_size):
        batch = collate(chunk, pad_id=lm.pad_id).to(lm.device)
        hidden = lm.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True
        ).hidden_states[layer]
        last = batch.attention_mask.sum(-1) - 1
        rows = hidden[torch.arange(len(chunk), device=lm.device), last]
        out[idx] = rows.float().cpu().numpy()
    return out
