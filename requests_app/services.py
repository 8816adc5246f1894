"""The lifecycle core: the allowed-transitions table, the one function that changes a status, the GDPR
clock, the erasure of a closed request's texts and, after the retention period, of its requester's name
and address. Every domain's use cases build on these."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.personal import personal_hash
from requests_app.audit import Actor, audit_append
from requests_app.models import (
    FINAL_STATUSES,
    ConceptExample,
    ForgetItem,
    ForgetRequest,
    RequestMessage,
    Status,
)

# The allowed-transitions table of DESIGN.md. Anything not listed is refused and changes nothing.
ALLOWED: dict[str, frozenset[str]] = {
    Status.SUBMITTED: frozenset({Status.VERIFIED, Status.EXPIRED, Status.CANCELLED}),
    Status.VERIFIED: frozenset({Status.SCREENING, Status.CANCELLED}),
    Status.SCREENING: frozenset({Status.IN_REVIEW, Status.CANCELLED}),
    Status.IN_REVIEW: frozenset({Status.APPROVED, Status.REJECTED, Status.NEEDS_INFO, Status.CANCELLED}),
    Status.NEEDS_INFO: frozenset({Status.SCREENING, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.UNLEARNING, Status.CANCELLED}),
    # A job that failed for good puts its requests back in the queue: never lost.
    Status.UNLEARNING: frozenset({Status.VERIFYING, Status.APPROVED}),
    Status.VERIFYING: frozenset({Status.AWAITING_RELEASE, Status.APPROVED}),
    # A release manager who refuses the candidate sends the requests back to be batched again.
    Status.AWAITING_RELEASE: frozenset({Status.COMPLETED, Status.APPROVED}),
}


def response_period() -> relativedelta:
    """GDPR Art. 12(3): one month from the confirmed identity (PALIMPSEST_RESPONSE_MONTHS)."""
    return relativedelta(months=settings.PALIMPSEST_RESPONSE_MONTHS)


def max_extension() -> relativedelta:
    """Art. 12(3): extendable by at most two further months (PALIMPSEST_MAX_EXTENSION_MONTHS)."""
    return relativedelta(months=settings.PALIMPSEST_MAX_EXTENSION_MONTHS)


def allowed_targets(status: str) -> frozenset[str]:
    return ALLOWED.get(status, frozenset())


def lock_request(*, request_id: int) -> ForgetRequest:
    """The request row, locked for the rest of the caller's transaction."""
    return ForgetRequest.objects.select_for_update().get(pk=request_id)


def apply_transition(
    req: ForgetRequest,
    *,
    to: Status,
    actor: Actor,
    action: str = "request.transition",
    data: dict | None = None,
    note: str = "",
) -> ForgetRequest:
    """Move a request the caller has locked (`lock_request`) to `to`, writing one audit event.

    A use case that decides more than the status (an officer's rejection, say) passes its own `action`
    and `data`, so that the decision and the transition are one event. Refused, and nothing changes,
    when the table does not allow it.
    """
    target = Status(to)
    if target not in allowed_targets(req.status):
        raise ApplicationError(
            f"A request that is {req.get_status_display().lower()} cannot become {target.label.lower()}."
        )
    previous = req.status
    req.status = target
    fields = ["status", "updated_at"]
    now = timezone.now()
    if target == Status.VERIFIED:
        # The GDPR clock starts when the identity is confirmed.
        req.verified_at = now
        req.original_due_at = req.due_at = now + response_period()
        fields += ["verified_at", "original_due_at", "due_at"]
    if target in FINAL_STATUSES:
        req.closed_at = now
        fields.append("closed_at")
    req.save(update_fields=fields)
    event = {"from": previous, "to": str(target), **(data or {})}
    if note:
        event["note_sha256"] = personal_hash(note)
    audit_append(actor=actor, action=action, obj=req, data=event)
    if target in FINAL_STATUSES:
        # The privacy notice promises the texts go once a request is closed, however it closes (rejected,
        # withdrawn, expired unconfirmed, completed): only hashes and figures remain.
        erase_submitted_texts(request_id=req.pk)
    return req


def refuse_unless(req: ForgetRequest, expected: Status) -> None:
    """Compare-and-set: refuse when someone else moved the request first."""
    if req.status != expected:
        raise ApplicationError(
            f"This request is now {req.get_status_display().lower()}; someone else has already acted on it."
        )


@transaction.atomic
def forget_request_transition(
    *, request_id: int, to: Status, actor: Actor, note: str = "", expected: Status | None = None
) -> ForgetRequest:
    """Lock the request and move it to `to` (`apply_transition`).

    `expected` turns the call into a compare-and-set: it fails if someone else moved the request first.
    """
    req = lock_request(request_id=request_id)
    if expected is not None:
        refuse_unless(req, expected)
    return apply_transition(req, to=to, actor=actor, note=note)


def erase_submitted_texts(*, request_id: int) -> int:
    """Empty every text of a closed request; only hashes and figures remain. Returns the items emptied."""
    now = timezone.now()
    erased = ForgetItem.objects.filter(request_id=request_id, text_deleted_at__isnull=True).update(
        text="", text_deleted_at=now
    )
    ConceptExample.objects.filter(request_id=request_id, text_deleted_at__isnull=True).update(
        question="", answer="", text_deleted_at=now
    )
    RequestMessage.objects.filter(request_id=request_id, body_deleted_at__isnull=True).update(
        body="", body_deleted_at=now
    )
    ForgetRequest.objects.filter(pk=request_id).update(concept_description="")
    audit_append(
        actor=Actor.system(),
        action="request.texts_erased",
        object_type=ForgetRequest._meta.label_lower,
        object_id=str(request_id),
        data={"items": erased},
    )
    return erased


def forget_requests_minimise_closed(*, now=None) -> list[int]:
    """Empty the name and e-mail address of every request closed longer ago than the retention period
    (PALIMPSEST_CLOSED_RETENTION_DAYS); the rest of the record is ids, dates, hashes. Safe to run twice."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PALIMPSEST_CLOSED_RETENTION_DAYS)
    due = list(
        ForgetRequest.objects.filter(
            status__in=FINAL_STATUSES, closed_at__lt=cutoff, minimised_at__isnull=True
        ).values_list("pk", flat=True)
    )
    for request_id in due:
        with transaction.atomic():
            ForgetRequest.objects.filter(pk=request_id, minimised_at__isnull=True).update(
                requester_name="", requester_email="", minimised_at=now
            )
            audit_append(
                actor=Actor.system(),
                action="request.minimised",
                object_type=ForgetRequest._meta.label_lower,
                object_id=str(request_id),
                data={"retention_days": settings.PALIMPSEST_CLOSED_RETENTION_DAYS},
            )
    return due
