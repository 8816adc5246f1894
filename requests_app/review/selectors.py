"""Reads for the review queue and the review page: a constant number of queries whatever the queue size."""

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import CharField, Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from requests_app.audit import audit_history
from requests_app.models import (
    ApprovalVote,
    ApprovedItem,
    AuditEvent,
    ForgetItem,
    ForgetRequest,
    ItemChoice,
    ItemDecision,
    ProposalStatus,
    RequestMessage,
    ReviewDecision,
    ScreeningVerdict,
    Status,
)
from requests_app.review.policy import FOUR_EYES_RISKS
from requests_app.screening.checks import verdict as V
from requests_app.services import max_extension

REVIEW_STATUSES = (Status.IN_REVIEW, Status.NEEDS_INFO)
RISK_LEVELS = ("low", "medium", "high", "unknown")
RISK_LABELS = {"low": "Low", "medium": "Medium", "high": "High", "unknown": "Not screened"}
# The proposal states of items expanded from a concept (submitted items have none).
PROPOSAL_STATES = (
    ProposalStatus.PROPOSED,
    ProposalStatus.OPTIONAL,
    ProposalStatus.ACCEPTED,
    ProposalStatus.REJECTED,
)


# --- The screening report, as far as review needs it -------------------------------------------------
# Screening stores one report per request and one row per item (requests_app.screening.models). These
# few functions are the only place here that reads them; without a report the risk is "unknown".


def _report(req: ForgetRequest):
    try:
        return req.screening_report
    except ObjectDoesNotExist:
        return None


def risk_level(req: ForgetRequest) -> str:
    report = _report(req)
    level = str(report.risk or "").lower() if report is not None else ""
    return level if level in RISK_LEVELS else "unknown"


def screening_summary(req: ForgetRequest) -> str:
    report = _report(req)
    if report is None:
        return "Screening pending" if req.status == Status.SCREENING else "Not screened"
    reasons = list(report.reasons or [])
    if not reasons:
        return "No concerns found"
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{_reason_text(reasons[0])}{more}"


def _reason_text(reason) -> str:
    if isinstance(reason, dict):
        return str(reason.get("text") or reason.get("message") or reason.get("code") or "")
    return str(reason)


def report_reasons(req: ForgetRequest) -> list[str]:
    report = _report(req)
    return [_reason_text(r) for r in (report.reasons or [])] if report is not None else []


def _item_screening(item: ForgetItem):
    try:
        return item.screening
    except ObjectDoesNotExist:
        return None


def proposed_in_coreset(item: ForgetItem) -> bool:
    """Screening's proposal; every item is in the coreset when screening proposed nothing."""
    screening = _item_screening(item)
    return True if screening is None else bool(screening.in_coreset)


def proposed_exclusion(item: ForgetItem) -> bool:
    """Screening advises not to forget the item at all (not the requester's, padding, poison...)."""
    screening = _item_screening(item)
    return screening is not None and screening.verdict == ScreeningVerdict.EXCLUDE


def forgotten_through(item: ForgetItem) -> int | None:
    """The requester's own earlier request that forgets this item, where repeating it there is the only
    reason screening leaves it out of this one; None otherwise."""
    screening = _item_screening(item)
    if screening is None or screening.verdict != ScreeningVerdict.EXCLUDE:
        return None
    if set(screening.flags) & (V.EXCLUDING_FLAGS - {V.DUPLICATE_EARLIER}):
        return None
    own = [
        d["request_id"]
        for d in screening.duplicates_earlier or []
        if d.get("same_requester") and d.get("jaccard") == 1.0
    ]
    return own[0] if own else None


def proposal_state(item: ForgetItem) -> str:
    """For an item expanded from a concept: "proposed", "accepted" or "rejected"; "" for submitted items."""
    screening = _item_screening(item)
    state = screening.proposal if screening is not None else ""
    return str(state) if state in PROPOSAL_STATES else ""


def item_reasons(item: ForgetItem) -> list[str]:
    screening = _item_screening(item)
    return [_reason_text(r) for r in (screening.reasons or [])] if screening is not None else []


def case_version(*, request_id: int) -> int:
    """The sequence number of the request's latest audit event: any decision or item change moves it."""
    latest = (
        AuditEvent.objects.filter(object_type=ForgetRequest._meta.label_lower, object_id=str(request_id))
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    return latest or 0


# --- The queue ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    risk: str = ""
    status: str = ""
    kind: str = ""
    overdue: bool = False


def review_queue(*, filters: QueueFilters | None = None, now: datetime | None = None) -> QuerySet:
    """Open requests (in review, waiting for information), soonest deadline first, annotated for display."""
    filters = filters or QueueFilters()
    now = now or timezone.now()
    items = ForgetItem.objects.filter(request=OuterRef("pk")).order_by().values("request")
    votes = ApprovalVote.objects.filter(request=OuterRef("pk"), withdrawn_at__isnull=True).order_by()
    events = AuditEvent.objects.filter(
        object_type=ForgetRequest._meta.label_lower, object_id=Cast(OuterRef("pk"), CharField())
    ).order_by("-seq")
    queryset = ForgetRequest.objects.filter(status__in=REVIEW_STATUSES).annotate(
        version=Coalesce(Subquery(events.values("seq")[:1]), Value(0)),
        item_count=Coalesce(
            Subquery(items.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0)
        ),
        live_votes=Coalesce(
            Subquery(
                votes.values("request").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
            ),
            Value(0),
        ),
    )
    queryset = queryset.select_related("screening_report")
    if filters.risk == "unknown":
        queryset = queryset.filter(screening_report__isnull=True)
    elif filters.risk in RISK_LEVELS:
        queryset = queryset.filter(screening_report__risk=filters.risk)
    if filters.status in REVIEW_STATUSES:
        queryset = queryset.filter(status=filters.status)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.overdue:
        queryset = queryset.filter(due_at__lt=now)
    return queryset.order_by(F("due_at").asc(nulls_last=True), "received_at", "pk")


@dataclass(frozen=True)
class QueueRow:
    request: ForgetRequest
    risk: str
    risk_label: str
    days_left: int | None
    overdue: bool
    item_count: int
    live_votes: int
    summary: str
    version: int = 0

    @property
    def deadline_text(self) -> str:
        return deadline_text(self.days_left, self.overdue)


def deadline_text(left: int | None, overdue: bool) -> str:
    if left is None:
        return "no deadline"
    if overdue:
        late = -left
        return "less than a day overdue" if late == 0 else f"{late} day{'s' * (late != 1)} overdue"
    return f"{left} day{'s' * (left != 1)} left"


def days_left(due_at: datetime | None, now: datetime) -> tuple[int | None, bool]:
    if due_at is None:
        return None, False
    seconds = (due_at - now).total_seconds()
    if seconds < 0:
        return -math.floor(-seconds / 86400), True
    return math.floor(seconds / 86400), False


def queue_rows(requests, *, now: datetime | None = None) -> list[QueueRow]:
    now = now or timezone.now()
    rows = []
    for req in requests:
        left, overdue = days_left(req.due_at, now)
        risk = risk_level(req)
        rows.append(
            QueueRow(
                request=req,
                risk=risk,
                risk_label=RISK_LABELS[risk],
                days_left=left,
                overdue=overdue,
                item_count=getattr(req, "item_count", 0),
                live_votes=getattr(req, "live_votes", 0),
                summary=screening_summary(req),
                version=getattr(req, "version", 0),
            )
        )
    return rows


# --- One request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgetSet:
    """What approval forgets: every item not dropped; the coreset is the part unlearning trains on."""

    item_ids: list[int]
    coreset_ids: list[int]
    dropped_ids: list[int]
    # Concept expansions nobody has accepted or dropped yet: approval waits for them.
    pending_proposal_ids: list[int] = field(default_factory=list)


def effective_choice(item: ForgetItem, decision: ItemDecision | None) -> str:
    if decision is not None:
        return decision.choice
    if proposed_exclusion(item):
        return ItemChoice.DROP
    return ItemChoice.INCLUDE if proposed_in_coreset(item) else ItemChoice.EXCLUDE


def _decision_of(item: ForgetItem) -> ItemDecision | None:
    try:
        return item.decision
    except ObjectDoesNotExist:
        return None


def forget_set(*, request_id: int) -> ForgetSet:
    """The items an approval forgets and the coreset, with the officers' choices applied (for the batcher)."""
    items = ForgetItem.objects.filter(request_id=request_id).select_related("decision", "screening")
    kept, coreset, dropped, pending = [], [], [], []
    for item in items.order_by("position"):
        choice = effective_choice(item, _decision_of(item))
        proposal = proposal_state(item)
        if proposal == ProposalStatus.PROPOSED:
            pending.append(item.pk)
            continue
        # An optional proposal (outside what the subject described) is forgotten only once an officer adds it.
        if choice == ItemChoice.DROP or proposal in (ProposalStatus.REJECTED, ProposalStatus.OPTIONAL):
            dropped.append(item.pk)
            continue
        kept.append(item.pk)
        if choice == ItemChoice.INCLUDE:
            coreset.append(item.pk)
    return ForgetSet(item_ids=kept, coreset_ids=coreset, dropped_ids=dropped, pending_proposal_ids=pending)


@dataclass(frozen=True)
class ItemRow:
    item: ForgetItem
    reasons: list[str]
    proposed_in_coreset: bool
    proposed_exclusion: bool
    decision: ItemDecision | None
    choice: str
    proposal: str
    forgotten_through: int | None = None  # the requester's earlier request that forgets this item


@dataclass
class ReviewCase:
    request: ForgetRequest
    risk: str
    risk_label: str
    summary: str
    reasons: list[str]
    items: list[ItemRow]
    votes: list[ApprovalVote]
    messages: list[RequestMessage]
    decisions: list[ReviewDecision]
    history: list = field(default_factory=list)
    version: int = 0
    recommended_action: str = ""
    latest_due_at: datetime | None = None
    identity_confirmed_at: datetime | None = None
    days_left: int | None = None
    overdue: bool = False

    @property
    def four_eyes(self) -> bool:
        return self.risk in FOUR_EYES_RISKS

    @property
    def deadline_text(self) -> str:
        return deadline_text(self.days_left, self.overdue)

    @property
    def voter_ids(self) -> set[int]:
        return {vote.officer_id for vote in self.votes}


def review_case(*, public_id, now: datetime | None = None) -> ReviewCase:
    """Everything the review page shows about one request. Raises ForgetRequest.DoesNotExist."""
    req = ForgetRequest.objects.select_related("identity_check", "screening_report").get(public_id=public_id)
    items = (
        ForgetItem.objects.filter(request=req)
        .select_related("decision", "decision__decided_by", "screening")
        .order_by("position")
    )
    rows = []
    for item in items:
        decision = _decision_of(item)
        rows.append(
            ItemRow(
                item=item,
                reasons=item_reasons(item),
                proposed_in_coreset=proposed_in_coreset(item),
                proposed_exclusion=proposed_exclusion(item),
                decision=decision,
                choice=effective_choice(item, decision),
                proposal=proposal_state(item),
                forgotten_through=forgotten_through(item),
            )
        )
    identity = req.identity_check if hasattr(req, "identity_check") else None
    left, overdue = days_left(req.due_at, now or timezone.now())
    risk = risk_level(req)
    history = list(audit_history(obj=req).select_related("actor_user"))
    return ReviewCase(
        request=req,
        risk=risk,
        risk_label=RISK_LABELS[risk],
        summary=screening_summary(req),
        reasons=report_reasons(req),
        items=rows,
        votes=list(
            ApprovalVote.objects.filter(request=req, withdrawn_at__isnull=True).select_related("officer")
        ),
        messages=list(RequestMessage.objects.filter(request=req).select_related("author_user")),
        decisions=list(ReviewDecision.objects.filter(request=req).select_related("officer")),
        history=history,
        version=history[-1].seq if history else 0,
        recommended_action=_report(req).recommended_action if _report(req) is not None else "",
        latest_due_at=req.original_due_at + max_extension() if req.original_due_at else None,
        identity_confirmed_at=identity.confirmed_at if identity is not None else req.verified_at,
        days_left=left,
        overdue=overdue,
    )


def erased_versions(*, sha256s, exclude_request_id: int | None = None) -> dict[str, str]:
    """sha256 -> the published version that erased an approved item with that text, for earlier requests."""
    rows = ApprovedItem.objects.filter(sha256__in=set(sha256s)).exclude(erased_in_version="")
    if exclude_request_id is not None:
        rows = rows.exclude(request_id=exclude_request_id)
    return dict(rows.order_by("-approved_at").values_list("sha256", "erased_in_version"))
