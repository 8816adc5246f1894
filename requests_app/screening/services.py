"""Screening of a verified request: run the checks (`screening.checks`), store the report, hand over to
review. Intake enqueues `requests_app.screening.tasks.screen_request` after commit; what the checks judge
against is loaded once per worker process (`screening.context`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from palimpsest.hashing import canonical_json, sha256_hex
from palimpsest.personal import personal_hash
from requests_app.audit import Actor, audit_append
from requests_app.models import ForgetItem, ForgetRequest, ItemSource, RequestKind, Status
from requests_app.review.selectors import erased_versions
from requests_app.screening import selectors
from requests_app.screening.checks import (
    CorpusIndex,
    Requester,
    RequestToScreen,
    ScreeningConfig,
    ScreeningContext,
    ScreenItem,
    expand_concept,
    screen_batch,
)
from requests_app.screening.checks.dedupe import ItemRef, requester_key, signature_bytes
from requests_app.screening.checks.pipeline import RequestReport
from requests_app.screening.models import (
    ItemScreening,
    NearDuplicateBand,
    NearDuplicateSignature,
    ProposalStatus,
    ScreeningReport,
)
from requests_app.screening.references import screening_context
from requests_app.services import forget_request_transition


def _finite(values: dict) -> dict:
    """JSON in PostgreSQL has no NaN: a score that could not be computed is stored as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def _items_digest(items: Sequence[ForgetItem]) -> str:
    return sha256_hex(canonical_json(sorted((i.pk, i.sha256) for i in items)))


def _requester(req: ForgetRequest) -> Requester:
    return Requester(name=req.requester_name, email=req.requester_email)


def _earlier(ref: ItemRef, jaccard: float, asker: str) -> dict:
    """Where an item was submitted before: ids, the overlap, and whether it was the same requester."""
    same = bool(asker) and ref.requester == asker
    return {"item_id": ref.item_id, "request_id": ref.request_id, "jaccard": jaccard, "same_requester": same}


def _persist(
    req: ForgetRequest,
    report: RequestReport,
    digest: str,
    proposals: dict,
    elapsed_ms: int,
    config: ScreeningConfig,
):
    """Store (or replace) the report, one row per item, and the items' near-duplicate signatures."""
    shas = dict(ForgetItem.objects.filter(request=req).values_list("pk", "sha256"))
    asker = requester_key(req.requester_email, personal_hash)
    # An item another request had erased from a published version: the officer sees which version.
    erased = erased_versions(sha256s=shas.values(), exclude_request_id=req.pk)
    notes = list(report.notes)
    if erased:
        versions = ", ".join(sorted(set(erased.values())))
        notes.append(
            f"{sum(1 for sha in shas.values() if sha in erased)} item(s) were already erased in published "
            f"version {versions}: guard and verification cover them again."
        )
    stored, _ = ScreeningReport.objects.update_or_create(
        request=req,
        defaults={
            "risk": report.risk,
            "reasons": report.reasons,
            "recommended_action": report.recommended_action,
            "coreset_item_ids": list(report.coreset),
            "forget_set_item_ids": list(report.forget_set),
            "figures": report.figures(),
            "notes": notes,
            "items_digest": digest,
            "model_label": report.model_label,
            "config": asdict(config),
            "duration_ms": elapsed_ms,
        },
    )
    for item in report.items:
        proposal = proposals.get(item.item_id)
        membership = item.membership
        fields = {
            "report": stored,
            "verdict": item.verdict,
            "flags": item.flags.codes,
            "reasons": item.flags.reasons,
            "in_coreset": item.in_coreset,
            "duplicate_of_id": item.duplicate_of,
            "duplicates_earlier": [_earlier(r, 1.0, asker) for r in item.duplicates_earlier]
            + [_earlier(r, jac, asker) for r, jac in item.near_duplicates_earlier],
            "erased_in_version": erased.get(shas.get(item.item_id, ""), ""),
            "quality_passed": item.quality.passed,
            "language": item.quality.language,
            "quality": {"reasons": item.quality.reasons, "figures": item.quality.figures},
            "mentions_requester": item.personal.mentions_requester,
            "personal": {
                "matched": item.personal.matched,
                "kinds": item.personal.personal_data_kinds,
                "other_emails": item.personal.other_emails,
            },
            "membership_label": membership.label,
            "membership": {
                "signals": _finite(asdict(membership.signals)) if membership.signals else {},
                "p_values": membership.p_values,
                "explanation": membership.explanation,
                # What the model knows about the requester: kinds and figures of the facts, never values
                "knowledge": item.knowledge.as_dict() if item.knowledge is not None else {},
                "held": item.held,
            },
            "utility_similarity": item.utility.max_similarity,
            "common_word_share": item.utility.common_word_share,
            "grad_cosine": item.grad_cosine,
        }
        status = ProposalStatus.SUBMITTED
        if proposal:
            status = ProposalStatus.PROPOSED if proposal[2] else ProposalStatus.OPTIONAL
        proposal_fields = {
            "proposal": status,
            "proposal_origin": proposal[0] if proposal else "",
            "proposal_record_id": proposal[1] if proposal else "",
        }
        # An officer may already have accepted or rejected a proposal: a re-screen keeps that decision.
        ItemScreening.objects.update_or_create(
            item_id=item.item_id, defaults=fields, create_defaults={**fields, **proposal_fields}
        )
        signature, created = NearDuplicateSignature.objects.update_or_create(
            item_id=item.item_id,
            defaults={"request": req, "sha256": item.sha256, "signature": signature_bytes(item.signature)},
        )
        if created:  # signature and bands are written in one transaction: a new signature has none
            NearDuplicateBand.objects.bulk_create(
                NearDuplicateBand(signature=signature, band=band, key=key)
                for band, key in enumerate(item.band_keys)
            )
    return stored


def _expand(req: ForgetRequest, context: ScreeningContext, corpus: CorpusIndex | None) -> list:
    if req.kind != RequestKind.CONCEPT or req.items.filter(source=ItemSource.EXPANDED).exists():
        return []
    limit = settings.PALIMPSEST_SCREENING_MAX_EXPANDED
    return expand_concept(
        req.concept_description, _requester(req), corpus=corpus, lm=context.lm, max_items=limit
    )


def _add_expanded(req: ForgetRequest, expanded: list) -> dict:
    """Create the proposals as ForgetItem rows (source = expanded); returns item id -> (origin, record id,
    in scope)."""
    proposals: dict = {}
    if not expanded or req.items.filter(source=ItemSource.EXPANDED).exists():
        return proposals
    start = (req.items.aggregate(top=Max("position"))["top"] or -1) + 1
    for offset, proposal in enumerate(expanded):
        item = ForgetItem.objects.create(
            request=req,
            position=start + offset,
            text=proposal.text,
            sha256=personal_hash(proposal.text),
            source=ItemSource.EXPANDED,
            char_count=len(proposal.text),
        )
        proposals[item.pk] = (proposal.origin, proposal.record_id, proposal.in_scope)
    return proposals


def _to_screen(req: ForgetRequest) -> RequestToScreen:
    items = list(req.items.filter(text_deleted_at__isnull=True).order_by("position"))
    return RequestToScreen(
        [
            ScreenItem(i.pk, i.text, "expanded" if i.source == ItemSource.EXPANDED else "submitted")
            for i in items
        ],
        _requester(req),
        selectors.DatabaseDuplicateIndex(exclude_request_id=req.pk),
        req.pk,
    )


def _digest(req: ForgetRequest) -> str:
    return _items_digest(list(req.items.exclude(source=ItemSource.EXPANDED)))


def _fresh(req: ForgetRequest, digest: str) -> bool:
    return ScreeningReport.objects.filter(request_id=req.pk, items_digest=digest).exists()


def _claim_companions(lead: ForgetRequest) -> list[int]:
    """Other verified requests waiting for screening, deadline first, moved to `screening` for this batch.

    A worker with a backlog screens several requests in one call: the models read their items together
    (docs/benchmarks/screening.md). Rows another worker holds are skipped, never waited for. Concept
    requests are left to their own task (their expansion runs the model before any lock is taken). A
    claimed request keeps its own queued task: if this worker dies, that task (or the stalled-screening
    sweep) screens it.
    """
    limit = settings.PALIMPSEST_SCREENING_BATCH_REQUESTS - 1
    if limit < 1:
        return []
    ids = list(
        ForgetRequest.objects.select_for_update(skip_locked=True)
        .filter(status=Status.VERIFIED)
        .exclude(kind=RequestKind.CONCEPT)
        .exclude(pk=lead.pk)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        forget_request_transition(request_id=pk, to=Status.SCREENING, actor=Actor.system())
    return ids


def _screen_and_store(lead_id: int, companion_ids: list[int]) -> None:
    started = time.monotonic()
    context, corpus = screening_context()
    lead = ForgetRequest.objects.get(pk=lead_id)
    expanded = [] if _fresh(lead, _digest(lead)) else _expand(lead, context, corpus)  # before any lock
    with transaction.atomic():
        # The locks make a concurrent second run wait, then find the reports and skip the work; a
        # companion another worker holds is skipped (its own task screens it).
        lead = ForgetRequest.objects.select_for_update().get(pk=lead_id)
        companions = list(
            ForgetRequest.objects.select_for_update(skip_locked=True)
            .filter(pk__in=companion_ids, status=Status.SCREENING)
            .order_by("due_at", "pk")
        )
        batch = []
        for req in [lead, *companions]:
            digest = _digest(req)
            if req.status != Status.SCREENING or _fresh(req, digest):
                continue
            proposals = _add_expanded(req, expanded) if req.pk == lead_id else {}
            batch.append((req, digest, proposals))
        if not batch:
            return
        reports = screen_batch([_to_screen(req) for req, _, _ in batch], context=context)
        elapsed = int((time.monotonic() - started) * 1000)
        for (req, digest, proposals), report in zip(batch, reports, strict=True):
            _persist(req, report, digest, proposals, elapsed, context.config)
            audit_append(
                actor=Actor.system(),
                action="request.screened",
                obj=req,
                data={
                    **report.figures(),
                    "proposed_items": len(proposals),
                    "duration_ms": elapsed,
                    "batch_requests": len(batch),
                },
            )


def _to_review(request_id: int) -> ForgetRequest:
    with transaction.atomic():
        req = ForgetRequest.objects.select_for_update().get(pk=request_id)
        if req.status != Status.SCREENING:
            return req  # a concurrent run (or a withdrawal) got there first
        return forget_request_transition(request_id=request_id, to=Status.IN_REVIEW, actor=Actor.system())


def forget_request_screen(*, request_id: int) -> ForgetRequest:
    """Screen a verified request (and other waiting ones with it), store the reports, move them to review.

    Safe to run twice, and safe to crash anywhere: the database says what is left to do.
    """
    with transaction.atomic():
        req = ForgetRequest.objects.select_for_update().get(pk=request_id)
        if req.status == Status.VERIFIED:
            req = forget_request_transition(request_id=request_id, to=Status.SCREENING, actor=Actor.system())
        if req.status != Status.SCREENING:
            return req  # already screened, withdrawn, or not yet confirmed: nothing to do
        companions = _claim_companions(req)
    _screen_and_store(request_id, companions)
    for pk in companions:
        if ScreeningReport.objects.filter(request_id=pk).exists():
            _to_review(pk)
    return _to_review(request_id)
