"""Compliance officers' decisions: approve (four-eyes on high risk), reject, ask, extend, edit the items.

Each decision is one service: it locks the request row once (`_lock_for_decision`), checks once, and
writes one audit event (ids and hashes) that records the decision and the status change together; the
e-mail goes out after commit. Approval stores the forget set (`ApprovedItem`) for the unlearning side.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.ml.text import clean_text
from palimpsest.personal import personal_hash
from requests_app.audit import Actor, audit_append
from requests_app.guard import services as guard
from requests_app.intake import emails
from requests_app.models import ForgetItem, ForgetRequest, MessageAuthor, RequestMessage, Status
from requests_app.review import selectors
from requests_app.review.models import (
    ApprovalVote,
    ApprovedItem,
    DecisionKind,
    ItemChoice,
    ItemDecision,
    ReviewDecision,
)
from requests_app.review.policy import (
    DECIDE_PERMISSION,
    EXTEND_PERMISSION,
    FOUR_EYES_RISKS,
    REJECTION_EXCEPTIONS,
    decision_refusal,
)
from requests_app.screening.models import ItemScreening, ProposalStatus
from requests_app.services import apply_transition, lock_request, max_extension


def _lock_for_decision(
    request_id: int, officer, *, permission: str = DECIDE_PERMISSION, status: str | None = Status.IN_REVIEW
) -> ForgetRequest:
    req = lock_request(request_id=request_id)
    refusal = decision_refusal(officer, req, permission=permission)
    if refusal:
        raise ApplicationError(refusal)
    if status is not None and req.status != status:
        raise ApplicationError(
            f"This request is now {req.get_status_display().lower()}; someone else has already acted on it, "
            "or it is not waiting for a decision."
        )
    return req


def _withdraw_votes(req: ForgetRequest) -> int:
    return ApprovalVote.objects.filter(request=req, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )


@dataclass(frozen=True)
class ApprovalOutcome:
    request: ForgetRequest
    approved: bool
    votes: int
    votes_needed: int
    fingerprints: int = 0


@transaction.atomic
def forget_request_approve(*, request_id: int, officer, seen_version: int | None = None) -> ApprovalOutcome:
    """Record the officer's approval; approve once enough different officers have (two on high risk).

    `seen_version` (from `selectors.case_version`, sent by the page the officer read) refuses the
    approval if anything happened to the request since. On approval the forgotten items enter the
    suppression guard in the same transaction.
    """
    req = _lock_for_decision(request_id, officer)
    if seen_version is not None and seen_version != selectors.case_version(request_id=req.pk):
        raise ApplicationError(
            "This request changed since you opened it (another officer acted on it). Look at it again."
        )
    actor = Actor.user(officer)
    risk = selectors.risk_level(req)
    needed = 2 if risk in FOUR_EYES_RISKS else 1
    live = ApprovalVote.objects.filter(request=req, withdrawn_at__isnull=True)
    if live.filter(officer=officer).exists():
        raise ApplicationError(
            "You have already approved this request. A second, different officer must approve it too."
        )
    forget_set = selectors.forget_set(request_id=req.pk)  # items do not change below
    pending = forget_set.pending_proposal_ids
    if pending:
        raise ApplicationError(
            f"Accept or drop the {len(pending)} item{'s' * (len(pending) != 1)} proposed from the topic first."
        )
    ApprovalVote.objects.create(request=req, officer=officer)
    officers = sorted(live.values_list("officer_id", flat=True))
    if len(officers) < needed:
        audit_append(
            actor=actor,
            action="review.approval_vote",
            obj=req,
            data={"risk": risk, "votes": len(officers), "needed": needed},
        )
        return ApprovalOutcome(request=req, approved=False, votes=len(officers), votes_needed=needed)

    forgotten = list(
        ForgetItem.objects.filter(pk__in=forget_set.item_ids).values_list("pk", "text", "sha256")
    )
    added = guard.guard_add_items(
        request_id=req.pk, items=[(pk, text) for pk, text, _ in forgotten], names=[req.requester_name]
    )
    coreset = set(forget_set.coreset_ids)
    now = timezone.now()
    ApprovedItem.objects.bulk_create(
        ApprovedItem(request=req, item_id=pk, sha256=sha, in_coreset=pk in coreset, approved_at=now)
        for pk, _, sha in forgotten
    )
    ReviewDecision.objects.create(request=req, kind=DecisionKind.APPROVE, officer=officer)
    req = apply_transition(
        req,
        to=Status.APPROVED,
        actor=actor,
        action="review.approve",
        data={
            "risk": risk,
            "officer_ids": officers,
            "items_forgotten": len(forget_set.item_ids),
            "items_dropped": len(forget_set.dropped_ids),
            "coreset": len(forget_set.coreset_ids),
            "forget_set_sha256": personal_hash("".join(sha for _, _, sha in forgotten)),
            "guard_fingerprints": added,
        },
    )
    return ApprovalOutcome(
        request=req, approved=True, votes=len(officers), votes_needed=needed, fingerprints=added
    )


def _clean_reason(reason: str, *, field: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(message, field=field)
    return reason


@transaction.atomic
def forget_request_reject(*, request_id: int, officer, reason: str, exception: str = "") -> ForgetRequest:
    """Reject with a reason the requester is e-mailed; the submitted texts are erased (closed request)."""
    reason = _clean_reason(
        reason, field="reason", message="Write the reason for the rejection: the requester is told it."
    )
    if exception and exception not in REJECTION_EXCEPTIONS:
        raise ApplicationError("Choose one of the listed grounds for refusing erasure.", field="exception")
    req = _lock_for_decision(request_id, officer)
    req = apply_transition(
        req,
        to=Status.REJECTED,
        actor=Actor.user(officer),
        action="review.reject",
        data={"exception": exception, "reason_sha256": personal_hash(reason)},
    )
    _withdraw_votes(req)
    ReviewDecision.objects.create(
        request=req,
        kind=DecisionKind.REJECT,
        officer=officer,
        exception=exception,
        reason=reason,
        reason_sha256=personal_hash(reason),
    )
    transaction.on_commit(lambda: emails.send_rejected(req, reason), robust=True)
    return req


@transaction.atomic
def forget_request_needs_info(*, request_id: int, officer, question: str) -> ForgetRequest:
    """Ask the requester a question (stored as a message, e-mailed); the request waits for the answer."""
    # Hash exactly what is stored and sent: the cleaned question (\r\n, NFC, control characters).
    question = _clean_reason(
        clean_text(question or ""),
        field="question",
        message="Write the question the requester should answer.",
    )
    req = _lock_for_decision(request_id, officer)
    withdrawn = _withdraw_votes(req)
    req = apply_transition(
        req,
        to=Status.NEEDS_INFO,
        actor=Actor.user(officer),
        action="review.needs_info",
        data={"question_sha256": personal_hash(question), "votes_withdrawn": withdrawn},
    )
    RequestMessage.objects.create(
        request=req,
        author=MessageAuthor.OFFICER,
        author_user=officer,
        body=question,
        sha256=personal_hash(question),
    )
    ReviewDecision.objects.create(
        request=req, kind=DecisionKind.NEEDS_INFO, officer=officer, reason_sha256=personal_hash(question)
    )
    transaction.on_commit(lambda: emails.send_needs_info(req, question), robust=True)
    return req


@dataclass(frozen=True)
class Extension:
    request: ForgetRequest
    previous_due_at: datetime


@transaction.atomic
def forget_request_extend_deadline(
    *, request_id: int, officer, new_due_at: datetime, reason: str
) -> Extension:
    """Extend the deadline (at most two further months in all, with a reason); the requester is told."""
    reason = _clean_reason(
        reason, field="reason", message="Give the reason for the extension: the requester is told it."
    )
    req = _lock_for_decision(request_id, officer, permission=EXTEND_PERMISSION, status=None)
    if req.status not in (Status.IN_REVIEW, Status.NEEDS_INFO):
        raise ApplicationError("Only a request in review or waiting for information can be extended here.")
    if new_due_at <= req.due_at:
        raise ApplicationError("The new deadline must be later than the current one.", field="new_due_at")
    latest = req.original_due_at + max_extension()
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
    ReviewDecision.objects.create(
        request=req,
        kind=DecisionKind.EXTEND,
        officer=officer,
        reason=reason,
        reason_sha256=personal_hash(reason),
    )
    audit_append(
        actor=Actor.user(officer),
        action="request.extend",
        obj=req,
        data={
            "previous_due_at": previous.isoformat(),
            "due_at": new_due_at.isoformat(),
            "reason_sha256": personal_hash(reason),
        },
    )
    transaction.on_commit(lambda: emails.send_extended(req), robust=True)
    return Extension(request=req, previous_due_at=previous)


@dataclass(frozen=True)
class BulkOutcome:
    request_id: int
    done: bool
    message: str


def forget_requests_bulk_decide(
    *, request_ids: Iterable[int], officer, decision: str, reason: str = "", exception: str = ""
) -> list[BulkOutcome]:
    """Approve or reject several low-risk requests; each is its own transaction, refusals are reported."""
    if decision not in (DecisionKind.APPROVE, DecisionKind.REJECT):
        raise ApplicationError("Bulk decisions are approve or reject.", field="decision")
    if decision == DecisionKind.REJECT:
        _clean_reason(
            reason, field="reason", message="Write the reason for the rejection: the requesters are told it."
        )
    outcomes = []
    for request_id in dict.fromkeys(request_ids):
        try:
            with transaction.atomic():
                req = _lock_for_decision(request_id, officer)
                if selectors.risk_level(req) != "low":
                    raise ApplicationError("Only low-risk requests can be decided in bulk: open this one.")
                if decision == DecisionKind.APPROVE:
                    forget_request_approve(request_id=request_id, officer=officer)
                    message = "approved"
                else:
                    forget_request_reject(
                        request_id=request_id, officer=officer, reason=reason, exception=exception
                    )
                    message = "rejected"
            outcomes.append(BulkOutcome(request_id, True, message))
        except ForgetRequest.DoesNotExist:
            outcomes.append(BulkOutcome(request_id, False, "No such request."))
        except ApplicationError as error:
            outcomes.append(BulkOutcome(request_id, False, error.message))
    return outcomes


@transaction.atomic
def forget_item_decide(*, item_id: int, officer, choice: str, note: str = "") -> ItemDecision:
    """Put one item in or out of the coreset, or drop it from what is forgotten (a note is then required).

    Earlier approvals are withdrawn: the second officer must approve what the first one saw.
    """
    if choice not in ItemChoice.values:
        raise ApplicationError("Choose include, exclude or drop.", field="choice")
    note = (note or "").strip()
    if choice == ItemChoice.DROP and not note:
        raise ApplicationError("Say why this item should not be forgotten.", field="note")
    request_id, position = ForgetItem.objects.values_list("request_id", "position").get(pk=item_id)
    req = _lock_for_decision(request_id, officer)
    decision, _ = ItemDecision.objects.update_or_create(
        item_id=item_id, defaults={"choice": choice, "note": note, "decided_by": officer}
    )
    withdrawn = _withdraw_votes(req)
    audit_append(
        actor=Actor.user(officer),
        action="review.item",
        obj=req,
        data={
            "item_id": item_id,
            "item_position": position,
            "choice": choice,
            "note_sha256": personal_hash(note) if note else "",
            "votes_withdrawn": withdrawn,
        },
    )
    return decision


@transaction.atomic
def forget_item_proposal_decide(*, item_id: int, officer, accept: bool) -> str:
    """Accept or drop an item that screening proposed from a concept; returns the new proposal state."""
    request_id, position = ForgetItem.objects.values_list("request_id", "position").get(pk=item_id)
    req = _lock_for_decision(request_id, officer)
    screening = ItemScreening.objects.select_for_update().filter(item_id=item_id).first()
    if screening is None or screening.proposal not in selectors.PROPOSAL_STATES:
        raise ApplicationError("This item was sent by the requester, not proposed from the topic.")
    state = ProposalStatus.ACCEPTED if accept else ProposalStatus.REJECTED
    screening.proposal = state
    screening.save(update_fields=["proposal"])
    withdrawn = _withdraw_votes(req)
    audit_append(
        actor=Actor.user(officer),
        action="review.proposal",
        obj=req,
        data={"item_id": item_id, "item_position": position, "proposal": state, "votes_withdrawn": withdrawn},
    )
    return str(state)


def approved_items_mark_erased(*, request_ids: Iterable[int], version_label: str) -> int:
    """A published model version no longer holds these requests' approved items: record which, once
    (the first version to erase an item keeps the mark). Screening shows it on later duplicates."""
    return ApprovedItem.objects.filter(request_id__in=list(request_ids), erased_in_version="").update(
        erased_in_version=version_label
    )
