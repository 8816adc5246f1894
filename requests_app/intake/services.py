"""What the requester does: submit a request, confirm the e-mail address, ask for a new code, answer an
officer's question, withdraw; and the expiry of requests never confirmed."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.personal import personal_hash
from requests_app.audit import Actor, audit_append
from requests_app.intake import emails, identity, parsing, ratelimit
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
from requests_app.screening.tasks import screen_request
from requests_app.services import (
    allowed_targets,
    apply_transition,
    forget_request_transition,
    lock_request,
)

# The confirmation link in the receipt e-mail is valid this long; then the request expires.
CONFIRMATION_WINDOW = timedelta(hours=24)
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
    lim = parsing.limits()
    name = parsing.clean_name(requester_name)
    email = parsing.clean_short_text(
        requester_email, field="email", label="your e-mail address", max_chars=254
    )
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid e-mail address.", field="email") from None
    parsing.check_email_local_part(email)
    place = (jurisdiction or "").strip().upper()
    if place not in parsing.JURISDICTION_CODES:
        raise ApplicationError("Choose where you live from the list.", field="jurisdiction")
    if legal_ground not in LegalGround.values:
        raise ApplicationError("Choose the reason for erasure.", field="legal_ground")
    if kind not in RequestKind.values:
        raise ApplicationError("Choose whether you send text or describe a topic.", field="kind")
    if not declaration:
        raise ApplicationError("Please confirm the declaration.", field="declaration")
    items, concept_examples, description = [], [], ""
    if kind == RequestKind.CORPUS:
        items = parsing.corpus_items(pasted_text=text, files=files, lim=lim)
    else:
        description = parsing.clean_short_text(
            concept_description,
            field="concept_description",
            label="the description of what to forget",
            max_chars=lim.max_concept_chars,
        )
        concept_examples = parsing.concept_examples(examples, lim=lim)
    # Keyed by the address *and* the client: a stranger who files requests in someone's name fills only
    # their own allowance, never the owner's (the per-client limit above bounds what reaches one inbox).
    ratelimit.hit("submit-email", f"{email}|{client_ip}")

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
                "items_sha256": personal_hash("".join(item.sha256 for item in items)),
                "examples": len(concept_examples),
            },
        )
        transaction.on_commit(lambda: emails.send_receipt(req, code, link_token), robust=True)
    return Submission(request=req, code=code, link_token=link_token)


def forget_request_confirm(*, public_id, code: str = "", link_token: str = "") -> ForgetRequest:
    """Confirm the e-mail address with the 6-digit code or the one-time link; starts the GDPR clock.

    A wrong code is counted (and the count kept) before the refusal is raised; the fifth locks the check.
    A wrong link token is refused but not counted: it is 256 random bits, so guessing is hopeless, and
    counting it would let anyone who knows the request id lock the requester out.
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
            if link_token:
                raise ApplicationError(
                    "This confirmation link is not valid (a newer e-mail may have replaced it). "
                    "Enter the six-digit code from the latest e-mail instead.",
                    field="code",
                )
            check.failed_attempts += 1
            left = MAX_CODE_ATTEMPTS - check.failed_attempts
            if left <= 0:
                check.locked_at = timezone.now()
            check.save(update_fields=["failed_attempts", "locked_at"])
            audit_append(
                actor=Actor.subject(),
                action="identity.failed",
                obj=check.request,
                data={"attempt": check.failed_attempts, "locked": left <= 0},
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
    check.confirmed_at = timezone.now()
    check.save(update_fields=["confirmed_at"])
    req = forget_request_transition(
        request_id=check.request_id, to=Status.VERIFIED, actor=Actor.subject(), expected=Status.SUBMITTED
    )
    # robust: a broker outage must not fail the subject's confirmation; the sweep re-queues it.
    transaction.on_commit(lambda: screen_request.delay(req.pk), robust=True)
    transaction.on_commit(lambda: emails.send_verified(req), robust=True)
    return req


def forget_request_expire_unconfirmed(*, now: datetime | None = None) -> list[int]:
    """Expire every request whose confirmation link has run out; safe to run twice."""
    now = now or timezone.now()
    stale_ids = list(
        ForgetRequest.objects.filter(
            status=Status.SUBMITTED, received_at__lt=now - CONFIRMATION_WINDOW
        ).values_list("pk", flat=True)
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


@transaction.atomic
def forget_request_withdraw(*, public_id) -> ForgetRequest:
    """The requester withdraws: allowed until unlearning starts; the texts are erased at once."""
    req = ForgetRequest.objects.select_for_update().get(public_id=public_id)
    if Status.CANCELLED not in allowed_targets(req.status):
        if req.status in FINAL_STATUSES:
            raise ApplicationError(f"This request is already {req.get_status_display().lower()}.")
        raise ApplicationError("This request can no longer be withdrawn: the model is already being changed.")
    # Closing erases the texts (apply_transition).
    return apply_transition(req, to=Status.CANCELLED, actor=Actor.subject())


def forget_request_reply(*, public_id, body: str) -> ForgetRequest:
    """The requester answers the officer's question; the request goes back to screening."""
    body = parsing.clean_short_text(
        body, field="body", label="your answer", max_chars=parsing.limits().max_item_chars
    )
    with transaction.atomic():
        request_id = ForgetRequest.objects.filter(public_id=public_id).values_list("pk", flat=True).get()
        req = lock_request(request_id=request_id)
        if req.status != Status.NEEDS_INFO:
            raise ApplicationError("This request is not waiting for an answer from you.", field="body")
        RequestMessage.objects.create(
            request=req, author=MessageAuthor.SUBJECT, body=body, sha256=personal_hash(body)
        )
        req = apply_transition(
            req,
            to=Status.SCREENING,
            actor=Actor.subject(),
            action="request.reply",
            data={"body_sha256": personal_hash(body)},
        )
        transaction.on_commit(lambda: screen_request.delay(req.pk), robust=True)
    return req
