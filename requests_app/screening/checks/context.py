"""What every screening call judges against, built once per process: the model, its membership and
knowledge calibration, the retain gradient, the embedded utility-critical texts, and the thresholds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from palimpsest.hashing import sha256_hex
from palimpsest.ml.loading import LoadedModel
from requests_app.screening.checks.coreset import CONTAMINATION
from requests_app.screening.checks.damage import RetainGradient
from requests_app.screening.checks.knowledge import KnowledgeCalibration, build_knowledge_calibration
from requests_app.screening.checks.membership import (
    Calibration,
    extraction_recalls,
    item_signals,
    reproduced_by_teacher_forcing,
    template_words,
)
from requests_app.screening.checks.model_pass import model_pass, retain_gradient_of_texts


@dataclass(frozen=True)
class ScreeningConfig:
    utility_similarity: float = field(
        default=0.85,
        metadata={"help": "cosine to a utility-critical text at or above which an item conflicts"},
    )
    padding_share: float = field(
        default=0.6, metadata={"help": "share of very common words at or above which an item is padding"}
    )
    damage_cosine: float = field(
        default=0.8,
        metadata={"help": "gradient cosine with the retain set at or above which damage is predicted"},
    )
    contamination: float = field(
        default=CONTAMINATION, metadata={"help": "UPCORE IsolationForest outlier share"}
    )
    batch_size: int = field(default=64, metadata={"help": "items per model forward pass"})
    max_length: int = field(default=256, metadata={"help": "tokens of an item the model reads"})

    def __post_init__(self):
        if not 0 < self.utility_similarity <= 1 or not 0 < self.padding_share <= 1:
            raise ValueError("utility_similarity and padding_share must be in (0, 1]")
        if not 0 <= self.contamination < 0.5:
            raise ValueError("contamination must be in [0, 0.5)")
        if self.batch_size < 1 or self.max_length < 8:
            raise ValueError("batch_size must be >= 1 and max_length >= 8")


@dataclass
class ScreeningContext:
    """Loaded once per worker process: the published model, its calibration, the utility set, the embedder."""

    lm: LoadedModel | None
    calibration: Calibration | None
    embedder: Any | None
    utility_vectors: np.ndarray
    retain: RetainGradient | None
    config: ScreeningConfig = field(default_factory=ScreeningConfig)
    model_label: str = ""
    # The hash items are stored under, for exact duplicates (the Django side keys it with the pepper).
    text_digest: Callable[[str], str] = sha256_hex
    knowledge: KnowledgeCalibration | None = None
    _second_lane_lm: LoadedModel | None = field(default=None, repr=False)

    def lane_lm(self, lane: int) -> LoadedModel | None:
        """The model as one lane sees it: the weights are shared (read under no_grad), the tokenizer is the
        lane's own (a fast tokenizer is not safe to call from two threads at once)."""
        if lane == 0 or self.lm is None:
            return self.lm
        if self._second_lane_lm is None:
            self._second_lane_lm = replace(self.lm, tokenizer=copy.deepcopy(self.lm.tokenizer))
        return self._second_lane_lm


def build_context(
    lm: LoadedModel | None,
    *,
    nonmember_texts: Sequence[str] = (),
    utility_texts: Sequence[str] = (),
    retain_texts: Sequence[str] = (),
    embedder: Any | None = None,
    config: ScreeningConfig | None = None,
    model_label: str = "",
    text_digest: Callable[[str], str] = sha256_hex,
) -> ScreeningContext:
    config = config or ScreeningConfig()
    calibration = retain = knowledge = None
    if lm is not None and nonmember_texts:
        ref = model_pass(lm, nonmember_texts, batch_size=config.batch_size, max_length=config.max_length)
        template = template_words(nonmember_texts)
        extraction = extraction_recalls(
            lm,
            nonmember_texts,
            template=template,
            reproduced=reproduced_by_teacher_forcing(ref.scores),
            batch_size=config.batch_size,
        )
        calibration = Calibration.from_signals(item_signals(ref.scores, extraction), template=template)
        knowledge = build_knowledge_calibration(lm, nonmember_texts, batch_size=config.batch_size)
    if lm is not None and retain_texts:
        retain = retain_gradient_of_texts(lm, retain_texts, max_length=config.max_length)
    vectors = embedder.encode(utility_texts) if embedder is not None else np.zeros((0, 384), np.float32)
    return ScreeningContext(
        lm, calibration, embedder, vectors, retain, config, model_label, text_digest, knowledge
    )
