"""E-mails to the requester, in text and HTML; call them after commit. Logs ids only, never addresses.

Later stages call e.g. `transaction.on_commit(lambda: emails.send_rejected(req, reason))`.
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from requests_app.intake.identity import status_token
from requests_app.models import ForgetRequest

logger = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def status_path(req: ForgetRequest) -> str:
    """The private status page: a fresh token in the query string (derived, never stored)."""
    path = reverse("requests_app:status", kwargs={"public_id": req.public_id})
    return f"{path}?{urlencode({'t': current_status_token(req)})}"


def current_status_token(req: ForgetRequest) -> str:
    return status_token(req.public_id, generation=req.status_link_generation)


def status_url(req: ForgetRequest) -> str:
    return absolute(status_path(req))


def confirm_url(req: ForgetRequest, link_token: str) -> str:
    path = reverse("requests_app:confirm", kwargs={"public_id": req.public_id})
    return absolute(f"{path}?{urlencode({'k': link_token})}")


def _send(req: ForgetRequest, template: str, subject: str, **context) -> None:
    context = {
        "req": req,
        "status_url": status_url(req),
        "site_url": settings.SITE_URL,
        "complaint_url": settings.PALIMPSEST_COMPLAINT_URL,
        "link_days": settings.PALIMPSEST_STATUS_LINK_DAYS,
        **context,
    }
    message = EmailMultiAlternatives(
        subject=f"{subject} [{str(req.public_id)[:8]}]",
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[req.requester_email],
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()
    logger.info("sent e-mail %s for forget request %s", template, req.pk)


def send_receipt(req: ForgetRequest, code: str, link_token: str, *, resent_until=None) -> None:
    """The code and link; `resent_until` (the unchanged expiry) marks a replacement asked for by the requester."""
    _send(
        req,
        "receipt",
        "Your new confirmation code" if resent_until else "Please confirm your erasure request",
        code=code,
        confirm_url=confirm_url(req, link_token),
        resent_until=resent_until,
    )


def send_verified(req: ForgetRequest) -> None:
    _send(req, "verified", "We have received your erasure request")


def send_needs_info(req: ForgetRequest, question: str) -> None:
    _send(req, "needs_info", "We need more information about your erasure request", question=question)


def send_rejected(req: ForgetRequest, reason: str) -> None:
    _send(req, "rejected", "Decision on your erasure request", reason=reason)


def send_extended(req: ForgetRequest) -> None:
    _send(req, "extended", "We need more time for your erasure request")


def send_status_link(req: ForgetRequest, *, revoked: bool) -> None:
    """A fresh status link, asked for by the requester (`revoked`: after stopping every older link)."""
    _send(req, "status_link", "Your new link to your erasure request", revoked=revoked)


def send_completed(req: ForgetRequest, certificate_url: str) -> None:
    _send(req, "completed", "Your erasure request is complete", certificate_url=certificate_url)
