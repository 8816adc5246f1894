"""Every write to forget requests: the lifecycle transitions, the GDPR clock, and intake by the requester."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_hex
from requests_app import emails, identity, intake, ratelimit
from requests_app.audit import Actor, audit_append
from requests_app.models import (
    FINAL_STATUSES,
    Channel,
    ConceptExample,
    ForgetItem,
    ForgetRequest,
    IdentityCheck,
    LegalGround,
    MessageAuthor,
    RequestKind,
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

MAX_CODE_ATTEMPTS = 5
# A requester whose e-mail went missing may ask for new codes: this many e-mails in all, one a minute.
MAX_CODES_SENT = 3
RESEND_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Submission:
    request: ForgetRequest
    code: str
    link_token: str


def forget_request_submit_fields(data, *, examples, channel: str, client_ip: str) -> "Submission":
    """The portal form and the API share one field set (name, email, ...): submit it as one request."""
    return forget_request_submit(
        kind=data["kind"],
        requester_name=data["name"],
        requester_email=data["email"],
        jurisdiction=data["jurisdiction"],
        legal_ground=data["legal_ground"],
        declaration=data["declaration"],
        text=data["text"],
        files=data.get("files") or [],
        concept_description=data["concept_description"],
        examples=examples,
        channel=channel,
        client_ip=client_ip,
    )


def forget_request_submit(
    *,
    kind: str,
    requester_name: str,
    requester_email: str,
    jurisdiction: str,
    legal_ground: str,
    declaration: bool,
    text: str = "",
    files: Sequence = (),
    concept_description: str = "",
    examples: Sequence[tuple[str, str]] = (),
    channel: str = Channel.PORTAL,
    client_ip: str = "",
) -> Submission:
    """Check everything, then store the request, its items and its identity check in one transaction.

    The receipt e-mail (code and one-time link) goes out after commit. Nothing is stored on refusal.
    """
    if client_ip:
        ratelimit.hit("submit-ip", client_ip)
    lim = intake.limits()
    name = intake.clean_short_text(requester_name, field="name", label="your name", max_chars=200)
    email = intake.clean_short_text(
        requester_email, field="email", label="your e-mail address", max_chars=254
    )
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid e-mail address.", field="email") from None
    place = (jurisdiction or "").strip().upper()
    if place not in intake.JURISDICTION_CODES:
        raise ApplicationError("Choose where you live from the list.", field="jurisdiction")
    if legal_ground not in LegalGround.values:
        raise ApplicationError("Choose the reason for erasure.", field="legal_ground")
    if kind not in RequestKind.values:
        raise ApplicationError("Choose whether you send text or describe a topic.", field="kind")
    if not declaration:
        raise ApplicationError("Please confirm the declaration.", field="declaration")
    items, concept_examples, description = [], [], ""
    if kind == RequestKind.CORPUS:
        items = intake.corpus_items(pasted_text=text, files=files, lim=lim)
    else:
        description = intake.clean_short_text(
            concept_description,
            field="concept_description",
            label="the description of what to forget",
            max_chars=lim.max_concept_chars,
        )
        concept_examples = intake.concept_examples(examples, lim=lim)
    ratelimit.hit("submit-email", email)

    code, link_token = identity.new_code(), identity.new_link_token()
    now = timezone.now()
    with transaction.atomic():
        req = ForgetRequest.objects.create(
            kind=kind,
            requester_name=name,
            requester_email=email,
            jurisdiction=place,
            legal_ground=legal_ground,
            concept_description=description,
            channel=channel,
            declared_at=now,
        )
        ForgetItem.objects.bulk_create(
            ForgetItem(
                request=req,
                position=position,
                text=item.text,
                sha256=item.sha256,
                source=item.source,
                source_name=item.source_name,
                char_count=len(item.text),
                source_start=item.start,
                source_end=item.end,
                source_line=item.line,
            )
            for position, item in enumerate(items)
        )
        ConceptExample.objects.bulk_create(
            ConceptExample(
                request=req, position=position, question=ex.question, answer=ex.answer, sha256=ex.sha256
            )
            for position, ex in enumerate(concept_examples)
        )
        IdentityCheck.objects.create(
            request=req,
            code_hash=identity.secret_hash(code, public_id=req.public_id),
            link_token_hash=identity.secret_hash(link_token, public_id=req.public_id),
            expires_at=now + CONFIRMATION_WINDOW,
        )
        audit_append(
            actor=Actor.subject(),
            action="request.submit",
            obj=req,
            data={
                "kind": kind,
                "channel": channel,
                "items": len(items),
                "chars": sum(len(item.text) for item in items),
                "items_sha256": sha256_hex("".join(item.sha256 for item in items)),
                "examples": len(concept_examples),
            },
        )
        transaction.on_commit(lambda: emails.send_receipt(req, code, link_token), robust=True)
    return Submission(request=req, code=code, link_token=link_token)


def forget_request_confirm(*, public_id, code: str = "", link_token: str = "") -> ForgetRequest:
    """Confirm the e-mail address with the 6-digit code or the one-time link; starts the GDPR clock.

    A wrong code is counted (and the count kept) before the refusal is raised; the fifth locks the check.
    Raises ForgetRequest.DoesNotExist for an unknown id.
    """
    code = "".join((code or "").split())
    if not link_token and not (len(code) == identity.CODE_DIGITS and code.isdigit()):
        raise ApplicationError("The code is the six digits from the e-mail we sent you.", field="code")
    with transaction.atomic():
        check = _locked_identity_check(public_id)
        refusal = _confirmation_refusal(check)
        if refusal is None:
            secret, stored = (link_token, check.link_token_hash) if link_token else (code, check.code_hash)
            if identity.secret_matches(secret, stored, public_id=public_id):
                return _confirm(check)
            check.failed_attempts += 1
            left = MAX_CODE_ATTEMPTS - check.failed_attempts
            if left <= 0:
                check.locked_at = timezone.now()
            check.save(update_fields=["failed_attempts", "locked_at"])
            audit_append(
                actor=Actor.subject(),
                action="identity.failed",
                obj=check.request,
                data={"attempt": check.failed_attempts, "locked": left <= 0, "by_link": bool(link_token)},
            )
            refusal = _confirmation_refusal(check) or (
                f"That code is not right. You have {left} {'try' if left == 1 else 'tries'} left."
            )
    # Raised outside the transaction so that the count of wrong tries is kept.
    raise ApplicationError(refusal, field="code")


def _locked_identity_check(public_id) -> IdentityCheck:
    """The request's identity check, row-locked for this transaction (DoesNotExist for an unknown id)."""
    check = (
        IdentityCheck.objects.select_for_update()
        .select_related("request")
        .filter(request__public_id=public_id)
        .first()
    )
    if check is None:
        raise ForgetRequest.DoesNotExist("No request with this id awaits confirmation.")
    return check


def forget_request_resend_code(*, public_id) -> ForgetRequest:
    """E-mail a new code and link to the address given; they replace the old ones, which stop working.

    The expiry and the count of wrong tries stay as they are, so a new code never buys more time or more
    guesses. Raises ForgetRequest.DoesNotExist for an unknown id.
    """
    with transaction.atomic():
        check = _locked_identity_check(public_id)
        now = timezone.now()
        refusal = _confirmation_refusal(check)
        if refusal is None and check.codes_sent >= MAX_CODES_SENT:
            refusal = (
                f"We have sent {MAX_CODES_SENT} codes for this request already. Please look in your spam "
                "folder; if none has arrived, send a new request."
            )
        if refusal is None and now - (check.last_sent_at or check.created_at) < RESEND_INTERVAL:
            refusal = "We sent a code less than a minute ago. Please give it a moment to arrive."
        if refusal is not None:
            raise ApplicationError(refusal, field="code")
        code, link_token = identity.new_code(), identity.new_link_token()
        check.code_hash = identity.secret_hash(code, public_id=public_id)
        check.link_token_hash = identity.secret_hash(link_token, public_id=public_id)
        check.codes_sent += 1
        check.last_sent_at = now
        check.save(update_fields=["code_hash", "link_token_hash", "codes_sent", "last_sent_at"])
        req, until = check.request, check.expires_at
        audit_append(
            actor=Actor.subject(),
            action="identity.code_resent",
            obj=req,
            data={"codes_sent": check.codes_sent},
        )
        transaction.on_commit(
            lambda: emails.send_receipt(req, code, link_token, resent_until=until), robust=True
        )
    return req


def _confirmation_refusal(check: IdentityCheck) -> str | None:
    req = check.request
    if check.confirmed_at is not None or req.status not in (Status.SUBMITTED,):
        if check.confirmed_at is not None:
            return "This request is already confirmed; the link and the code cannot be used again."
        return f"This request is {req.get_status_display().lower()} and can no longer be confirmed."
    if check.locked_at is not None:
        return (
            "This request is locked after too many wrong codes. Please send a new request; "
            "this one will expire by itself."
        )
    if timezone.now() > check.expires_at:
        return "The code has expired (it is valid for 24 hours). Please send a new request."
    return None


def _confirm(check: IdentityCheck) -> ForgetRequest:
    from requests_app.tasks import screen_request  # tasks imports this module

    check.confirmed_at = timezone.now()
    check.save(update_fields=["confirmed_at"])
    req = forget_request_transition(
        request_id=check.request_id, to=Status.VERIFIED, actor=Actor.subject(), expected=Status.SUBMITTED
    )
    # robust: a broker outage must not fail the subject's confirmation; the sweep re-queues it.
    transaction.on_commit(lambda: screen_request.delay(req.pk), robust=True)
    transaction.on_commit(lambda: emails.send_verified(req), robust=True)
    return req


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
