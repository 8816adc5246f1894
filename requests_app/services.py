"""Every write to forget requests: the lifecycle transitions, the GDPR clock, withdrawal, questions and replies.

Submission and the e-mail confirmation are in `intake_service`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_hex
from requests_app import emails, intake
from requests_app.audit import Actor, audit_append
from requests_app.models import (
    FINAL_STATUSES,
    ConceptExample,
    ForgetItem,
    ForgetRequest,
    MessageAuthor,
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

RESPONSE_PERIOD = relativedelta(months=1)  # GDPR Art. 12(3)
MAX_EXTENSION = relativedelta(months=2)
# The confirmation link in the receipt e-mail is valid this long; then the request expires.
CONFIRMATION_WINDOW = timedelta(hours=24)


def allowed_targets(status: str) -> frozenset[str]:
    return ALLOWED.get(status, frozenset())


@transaction.atomic
def forget_request_transition(
    *, request_id: int, to: Status, actor: Actor, note: str = "", expected: Status | None = None
) -> ForgetRequest:
    """Move a request to `to`; refuse (and change nothing) if the table does not allow it.

    `expected` turns the call into a compare-and-set: it fails if someone else moved the request first.
    """
    req = ForgetRequest.objects.select_for_update().get(pk=request_id)
    if expected is not None and req.status != expected:
        raise ApplicationError(
            f"This request is now {req.get_status_display().lower()}; someone else has already acted on it."
        )
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
        req.original_due_at = req.due_at = now + RESPONSE_PERIOD
        fields += ["verified_at", "original_due_at", "due_at"]
    if target in FINAL_STATUSES:
        req.closed_at = now
        fields.append("closed_at")
    req.save(update_fields=fields)
    data = {"from": previous, "to": str(target)}
    if note:
        data["note_sha256"] = sha256_hex(note)
    audit_append(actor=actor, action="request.transition", obj=req, data=data)
    return req


@dataclass(frozen=True)
class Extension:
    request: ForgetRequest
    previous_due_at: datetime


@transaction.atomic
def forget_request_extend(*, request_id: int, new_due_at: datetime, reason: str, actor: Actor) -> Extension:
    """Extend the deadline, at most two further months past the original one, with a reason."""
    req = ForgetRequest.objects.select_for_update().get(pk=request_id)
    if not req.is_open or req.original_due_at is None:
        raise ApplicationError("Only an open request whose identity is confirmed has a deadline to extend.")
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Give the reason for the extension: the requester is told it.", field="reason")
    if new_due_at <= req.due_at:
        raise ApplicationError("The new deadline must be later than the current one.", field="new_due_at")
    latest = req.original_due_at + MAX_EXTENSION
    if new_due_at > latest:
        raise ApplicationError(
            f"The deadline can be extended by at most two further months, to {latest:%d %B %Y}.",
            field="new_due_at",
        )
    previous = req.due_at
    req.due_at = new_due_at
    req.extension_days = (new_due_at - req.original_due_at).days
    req.extension_reason = reason
    req.save(update_fields=["due_at", "extension_days", "extension_reason", "updated_at"])
    audit_append(
        actor=actor,
        action="request.extend",
        obj=req,
        data={
            "previous_due_at": previous.isoformat(),
            "due_at": new_due_at.isoformat(),
            "reason_sha256": sha256_hex(reason),
        },
    )
    return Extension(request=req, previous_due_at=previous)


def forget_request_expire_unconfirmed(*, now: datetime | None = None) -> list[int]:
    """Expire every request whose confirmation link has run out; safe to run twice."""
    now = now or timezone.now()
    cutoff = now - CONFIRMATION_WINDOW
    stale_ids = list(
        ForgetRequest.objects.filter(status=Status.SUBMITTED, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    expired = []
    for request_id in stale_ids:
        try:
            forget_request_transition(
                request_id=request_id, to=Status.EXPIRED, actor=Actor.system(), expected=Status.SUBMITTED
            )
        except ApplicationError:
            continue  # confirmed or withdrawn meanwhile: nothing to do
        expired.append(request_id)
    return expired


# --- Intake: submit, confirm the e-mail address, withdraw, answer a question -------------------------


def forget_request_withdraw(*, public_id) -> ForgetRequest:
    """The requester withdraws: allowed until unlearning starts; the texts are erased at once."""
    with transaction.atomic():
        req = ForgetRequest.objects.select_for_update().get(public_id=public_id)
        if Status.CANCELLED not in allowed_targets(req.status):
            if req.status in FINAL_STATUSES:
                raise ApplicationError(f"This request is already {req.get_status_display().lower()}.")
            raise ApplicationError(
                "This request can no longer be withdrawn: the model is already being changed."
            )
        req = forget_request_transition(request_id=req.pk, to=Status.CANCELLED, actor=Actor.subject())
        erase_submitted_texts(request_id=req.pk)
    return req


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


@transaction.atomic
def forget_request_ask(*, request_id: int, question: str, actor: Actor) -> ForgetRequest:
    """An officer asks the requester for more information; the question is e-mailed after commit."""
    question = intake.normalise(question or "")
    if not question:
        raise ApplicationError("Write the question the requester should answer.", field="question")
    req = forget_request_transition(request_id=request_id, to=Status.NEEDS_INFO, actor=actor, note=question)
    RequestMessage.objects.create(
        request=req,
        author=MessageAuthor.OFFICER,
        author_user_id=actor.user_id,
        body=question,
        sha256=sha256_hex(question),
    )
    transaction.on_commit(lambda: emails.send_needs_info(req, question), robust=True)
    return req


def forget_request_reply(*, public_id, body: str) -> ForgetRequest:
    """The requester answers the officer's question; the request goes back to screening."""
    from requests_app.tasks import screen_request  # tasks imports this module

    body = intake.clean_short_text(
        body, field="body", label="your answer", max_chars=intake.limits().max_item_chars
    )
    with transaction.atomic():
        req = ForgetRequest.objects.select_for_update().get(public_id=public_id)
        if req.status != Status.NEEDS_INFO:
            raise ApplicationError("This request is not waiting for an answer from you.", field="body")
        RequestMessage.objects.create(
            request=req, author=MessageAuthor.SUBJECT, body=body, sha256=sha256_hex(body)
        )
        req = forget_request_transition(
            request_id=req.pk, to=Status.SCREENING, actor=Actor.subject(), expected=Status.NEEDS_INFO
        )
        audit_append(
            actor=Actor.subject(), action="request.reply", obj=req, data={"body_sha256": sha256_hex(body)}
        )
        transaction.on_commit(lambda: screen_request.delay(req.pk), robust=True)
    return req


# Screening that never started (broker down at confirmation) or died: the sweep sends it again.
SCREENING_STALL = {Status.VERIFIED: timedelta(minutes=5), Status.SCREENING: timedelta(minutes=30)}


def forget_requests_stalled_in_screening(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    stalled: list[int] = []
    for status, patience in SCREENING_STALL.items():
        stalled += ForgetRequest.objects.filter(status=status, updated_at__lt=now - patience).values_list(
            "pk", flat=True
        )
    return sorted(stalled)
