"""`screen(...)`: every per-item check, the request verdict and the coreset, on plain dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from palimpsest.ml.loading import LoadedModel
from requests_app.screening import verdict as V
from requests_app.screening.coreset import CONTAMINATION, upcore_inliers
from requests_app.screening.damage import RetainGradient
from requests_app.screening.dedupe import DuplicateIndex, ItemRef, find_duplicates
from requests_app.screening.membership import (
    NOT_MEASURED,
    Calibration,
    MembershipEvidence,
    extraction_recalls,
    item_signals,
    judge,
    reproduced_by_teacher_forcing,
)
from requests_app.screening.model_pass import model_pass, retain_gradient_of_texts
from requests_app.screening.personal import PersonalEvidence, Requester, personal_evidence
from requests_app.screening.quality import QualityResult, assess_quality
from requests_app.screening.utility import UtilityConflict, embed, utility_conflicts

_EMBED_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screening-embed")
# Earlier requests in these states no longer stand for the item: a repeat of them is not a duplicate.
CLOSED_WITHOUT_ERASURE = frozenset({"rejected", "cancelled", "expired"})


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


def build_context(
    lm: LoadedModel | None,
    *,
    nonmember_texts: Sequence[str] = (),
    utility_texts: Sequence[str] = (),
    retain_texts: Sequence[str] = (),
    embedder: Any | None = None,
    config: ScreeningConfig | None = None,
    model_label: str = "",
) -> ScreeningContext:
    config = config or ScreeningConfig()
    calibration = retain = None
    if lm is not None and nonmember_texts:
        ref = model_pass(lm, nonmember_texts, batch_size=config.batch_size, max_length=config.max_length)
        extraction = extraction_recalls(
            lm,
            nonmember_texts,
            reproduced=reproduced_by_teacher_forcing(ref.scores),
            batch_size=config.batch_size,
        )
        calibration = Calibration.from_signals(item_signals(ref.scores, extraction))
    if lm is not None and retain_texts:
        retain = retain_gradient_of_texts(lm, retain_texts, max_length=config.max_length)
    vectors = embed(embedder, utility_texts) if embedder is not None else np.zeros((0, 384), np.float32)
    return ScreeningContext(lm, calibration, embedder, vectors, retain, config, model_label)


@dataclass(frozen=True)
class ScreenItem:
    item_id: int | str
    text: str
    source: str = "submitted"  # or "expanded" (a proposal from concept expansion)


@dataclass
class ItemReport:
    item_id: int | str
    source: str
    sha256: str
    signature: np.ndarray
    band_keys: list[int]
    duplicate_of: int | str | None
    near_duplicates_in_request: list[tuple[int | str, float]]
    duplicates_earlier: list[ItemRef]
    near_duplicates_earlier: list[tuple[ItemRef, float]]
    quality: QualityResult
    personal: PersonalEvidence
    membership: MembershipEvidence
    utility: UtilityConflict
    grad_cosine: float | None
    flags: V.ItemFlags
    in_coreset: bool = False
    # No model registry yet: which published version already erased this item is not known.
    erased_in_version: str | None = None

    @property
    def verdict(self) -> str:
        return self.flags.verdict


@dataclass
class RequestReport:
    items: list[ItemReport]
    risk: str
    reasons: list[str]
    recommended_action: str
    coreset: list[int | str]
    forget_set: list[int | str]  # every kept item: verification runs on all of them, not only the coreset
    model_label: str
    notes: list[str]

    def figures(self) -> dict:
        """Counts only (no text): fit for audit rows and logs."""
        flags: dict[str, int] = {}
        for item in self.items:
            for code in set(item.flags.codes):
                flags[code] = flags.get(code, 0) + 1
        return {
            "items": len(self.items),
            "kept": len(self.forget_set),
            "coreset": len(self.coreset),
            "risk": self.risk,
            "flags": flags,
            "held_by_model": sum(1 for i in self.items if i.membership.held),
        }


def _embed_single_threaded(embedder, texts: Sequence[str]) -> np.ndarray:
    torch.set_num_threads(1)  # OpenMP settings are per thread: keep this one to its own core
    return embed(embedder, texts)


def _duplicate_flags(report_flags, findings, items, i) -> None:
    if findings.exact_in_request[i] is not None:
        first = items[findings.exact_in_request[i]].item_id
        report_flags.add(V.DUPLICATE, f"identical to item {first} of this request")
    elif findings.near_in_request[i]:
        j, jac = findings.near_in_request[i][0]
        report_flags.add(
            V.DUPLICATE, f"a near-copy ({jac:.0%} overlap) of item {items[j].item_id} of this request"
        )
    live = [r for r in findings.exact_earlier[i] if r.request_status not in CLOSED_WITHOUT_ERASURE]
    if live:
        report_flags.add(V.DUPLICATE_EARLIER, f"already submitted in request {live[0].request_id}")
    elif findings.near_earlier[i]:
        near = findings.near_earlier[i][0]
        report_flags.add(
            V.NEAR_DUPLICATE_EARLIER,
            f"a near-copy ({near.jaccard:.0%} overlap) of an item of request {near.ref.request_id}",
        )


def screen(
    items: Sequence[ScreenItem],
    *,
    requester: Requester,
    context: ScreeningContext,
    earlier: DuplicateIndex | None = None,
) -> RequestReport:
    """Screen one request's items; pure apart from reading the model (no database, no files)."""
    cfg = context.config
    texts = [item.text for item in items]
    notes = ["No model registry yet: whether a published version already erased an item is not checked."]
    findings = find_duplicates(texts, earlier=earlier)
    qualities = [assess_quality(t) for t in texts]
    personals = [personal_evidence(t, requester) for t in texts]
    n = len(texts)
    # With one intra-op thread (OMP_NUM_THREADS=1 workers) the embedder runs in a second thread while the
    # language model works, one core each. With more intra-op threads it waits its turn: two thread teams
    # on the same cores stall each other (measured: several times slower on a loaded 2-core machine).
    wants_vectors = context.embedder is not None and context.utility_vectors.size and n
    embedding = None
    if wants_vectors and torch.get_num_threads() == 1:
        embedding = _EMBED_POOL.submit(_embed_single_threaded, context.embedder, texts)
    memberships = [MembershipEvidence(NOT_MEASURED)] * n
    cosines: list[float | None] = [None] * n
    hidden = np.zeros((n, 1), dtype=np.float32)
    if context.lm is not None and n:
        passed = model_pass(
            context.lm, texts, retain=context.retain, batch_size=cfg.batch_size, max_length=cfg.max_length
        )
        hidden, cosines = passed.hidden, passed.grad_cosine
        if context.calibration is not None:
            extraction = extraction_recalls(
                context.lm,
                texts,
                reproduced=reproduced_by_teacher_forcing(passed.scores),
                batch_size=cfg.batch_size,
            )
            memberships = [judge(s, context.calibration) for s in item_signals(passed.scores, extraction)]
    else:
        notes.append("No published model was available: membership evidence and damage were not measured.")
    if context.lm is not None and context.calibration is None:
        notes.append("No non-member calibration texts are configured: membership evidence was not judged.")
    item_vectors = None
    if embedding is not None:
        item_vectors = embedding.result()
    elif wants_vectors:
        item_vectors = embed(context.embedder, texts)
    if item_vectors is None:
        notes.append(
            "No embedder or utility-critical set: similarity to knowledge the model must keep was not measured."
        )
    utilities = utility_conflicts(item_vectors, context.utility_vectors, texts)
    reports = []
    for i, item in enumerate(items):
        flags = V.ItemFlags()
        _duplicate_flags(flags, findings, items, i)
        if not qualities[i].passed:
            flags.add(V.LOW_QUALITY, "; ".join(qualities[i].reasons))
        if not personals[i].mentions_requester:
            flags.add(
                V.NOT_ABOUT_REQUESTER,
                "does not mention you (name, e-mail or identifiers): may not be about you",
            )
        u = utilities[i]
        if u.max_similarity is not None and u.max_similarity >= cfg.utility_similarity:
            flags.add(V.UTILITY_CONFLICT, f"{u.max_similarity:.0%} similar to knowledge the model must keep")
        if u.common_word_share >= cfg.padding_share:
            flags.add(
                V.PADDING, f"{u.common_word_share:.0%} of its words are among the most common English words"
            )
        if memberships[i].label not in (NOT_MEASURED,) and not memberships[i].held:
            flags.add(V.NO_EVIDENCE, "the published model shows no sign of holding this text")
        if cosines[i] is not None and cosines[i] >= cfg.damage_cosine:
            flags.add(
                V.DAMAGE, f"unlearning it pulls against the retain set (gradient cosine {cosines[i]:.2f})"
            )
        reports.append(
            ItemReport(
                item_id=item.item_id,
                source=item.source,
                sha256=findings.sha256[i],
                signature=findings.signatures[i],
                band_keys=findings.band_keys[i],
                duplicate_of=None
                if findings.exact_in_request[i] is None
                else items[findings.exact_in_request[i]].item_id,
                near_duplicates_in_request=[
                    (items[j].item_id, jac) for j, jac in findings.near_in_request[i]
                ],
                duplicates_earlier=findings.exact_earlier[i],
                near_duplicates_earlier=[(d.ref, d.jaccard) for d in findings.near_earlier[i]],
                quality=qualities[i],
                personal=personals[i],
                membership=memberships[i],
                utility=u,
                grad_cosine=None if cosines[i] is None else round(float(cosines[i]), 4),
                flags=flags,
            )
        )
    kept = [i for i, r in enumerate(reports) if r.verdict == V.KEEP]
    inliers = np.ones(len(kept), dtype=bool)
    if context.lm is not None and kept:
        inliers = upcore_inliers(hidden[kept], contamination=cfg.contamination)
    for position, i in enumerate(kept):
        reports[i].in_coreset = bool(inliers[position])
        if not inliers[position]:
            reports[i].flags.add(
                V.OUTLIER, "an outlier of this request's items: left out of the training coreset"
            )
    pruned = int((~inliers).sum())
    outcome = V.request_verdict([r.flags for r in reports], coreset_size=int(inliers.sum()), pruned=pruned)
    return RequestReport(
        items=reports,
        risk=outcome.risk,
        reasons=outcome.reasons,
        recommended_action=outcome.recommended_action,
        coreset=[r.item_id for r in reports if r.in_coreset],
        forget_set=[reports[i].item_id for i in kept],
        model_label=context.model_label,
        notes=notes,
    )
