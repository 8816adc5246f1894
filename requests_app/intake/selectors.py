"""Reads for the portal and the public API: the request behind a status token, its timeline in plain words."""

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from requests_app.audit import audit_history
from requests_app.intake import identity
from requests_app.models import ForgetRequest, MessageAuthor, Status
from requests_app.services import allowed_targets


def forget_request_for_subject(*, public_id, token: str | None) -> ForgetRequest | None:
    """The request if the token is right, current and not expired; None otherwise, so that a wrong, revoked
    or expired token and a wrong id look alike."""
    req = ForgetRequest.objects.filter(public_id=public_id).first()
    if req is None or not identity.status_token_valid(
        public_id, token, generation=req.status_link_generation
    ):
        return None
    return req


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    text: str


_ENTERED = {
    Status.VERIFIED: "You confirmed your e-mail address. Our one-month deadline to answer started.",
    Status.IN_REVIEW: "A compliance officer is reviewing your request.",
    Status.NEEDS_INFO: "We asked you for more information.",
    Status.APPROVED: "Your request was approved. The model will be changed so that it forgets.",
    Status.UNLEARNING: "The model is being changed so that it forgets (unlearning).",
    Status.VERIFYING: "We are testing that the changed model no longer reveals what you asked us to forget.",
    Status.AWAITING_RELEASE: "The changed model passed our tests and is waiting to be put into service.",
    Status.COMPLETED: "Done: the model now in service no longer holds what you asked us to forget.",
    Status.REJECTED: "Your request was rejected. We have sent you the reason by e-mail.",
    Status.EXPIRED: "The request expired: the e-mail address was not confirmed within 24 hours.",
    Status.CANCELLED: "You withdrew the request.",
}


# Said again on a later attempt of the same change, as "…, attempt 2.", rather than as if new.
_REPEATED = {Status.UNLEARNING, Status.VERIFYING}


def _transition_text(event, attempts: dict) -> str | None:
    source, target = event.data.get("from"), event.data.get("to")
    if target == Status.SCREENING:
        if source == Status.NEEDS_INFO:
            return "You answered our question; we are checking your request again."
        return "We started checking what you sent (screening)."
    if target == Status.APPROVED and source != Status.IN_REVIEW:
        if event.action == "verification.failed":
            return (
                "The changed model did not pass our tests: it could still reveal some of what you asked us "
                "to forget. We are changing it again."
            )
        return "The change to the model did not finish; your request is queued for the next run."
    text = _ENTERED.get(target)
    if text and target in _REPEATED:
        attempts[target] = attempts.get(target, 0) + 1
        if attempts[target] > 1:
            text = f"{text[:-1]}, attempt {attempts[target]}."
    return text


def status_timeline(req: ForgetRequest) -> list[TimelineEntry]:
    entries, attempts = [], {}
    for event in audit_history(obj=req):
        text = None
        if event.action == "request.submit":
            items = event.data.get("items", 0)
            text = (
                f"We received your request with {items} piece{'s' * (items != 1)} of text."
                if event.data.get("kind") == "corpus"
                else "We received your request about a topic."
            )
        elif "to" in event.data:  # a status change, alone or as part of an officer's decision
            text = _transition_text(event, attempts)
        elif event.action == "request.extend":
            due = parse_datetime(event.data.get("due_at", ""))
            text = f"We extended the deadline to {due:%d %B %Y}." if due else "We extended the deadline."
        elif event.action == "identity.failed":
            text = "A wrong confirmation code was entered."
            if event.data.get("locked"):
                text += " Confirmation is now locked."
        elif event.action == "request.texts_erased":
            text = "The texts you sent were deleted; we keep only their fingerprints (hashes)."
        if text:
            entries.append(TimelineEntry(at=event.created_at, text=text))
    return entries


NEXT_STEP = {
    Status.SUBMITTED: "Confirm your e-mail address with the code or the link we sent you (valid for 24 hours).",
    Status.VERIFIED: "We will screen what you sent: check it is about you and find it in the model.",
    Status.SCREENING: "We are screening what you sent. A compliance officer will then decide.",
    Status.IN_REVIEW: "A compliance officer will decide, and may ask you a question by e-mail.",
    Status.NEEDS_INFO: "Please answer our question below; then we will check your request again.",
    Status.APPROVED: "Your request will be included in the next change to the model.",
    Status.UNLEARNING: "When the change is done we test the new model before putting it into service.",
    Status.VERIFYING: "If the tests pass, a release manager puts the new model into service.",
    Status.AWAITING_RELEASE: "Once the new model is in service we send you a certificate.",
    Status.COMPLETED: "Nothing: your request is complete. Your certificate is linked above and in our last e-mail.",
    Status.REJECTED: "You may complain to a data-protection supervisory authority (Art. 77 GDPR).",
    Status.EXPIRED: "Nothing. You are welcome to send a new request.",
    Status.CANCELLED: "Nothing. You are welcome to send a new request.",
}


def can_withdraw(req: ForgetRequest) -> bool:
    return Status.CANCELLED in allowed_targets(req.status)


def open_question(req: ForgetRequest) -> str:
    """The officer's latest question while the request waits for an answer."""
    if req.status != Status.NEEDS_INFO:
        return ""
    message = req.messages.filter(author=MessageAuthor.OFFICER).order_by("-created_at", "-pk").first()
    return message.body if message else ""
