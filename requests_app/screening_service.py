"""Screening of a verified request: run the screening package, store the report, hand over to review.

Owned by the screening stage; the portal enqueues `requests_app.tasks.screen_request` after commit.
"""

from django.db import transaction

from requests_app.audit import Actor
from requests_app.models import ForgetRequest, Status
from requests_app.services import forget_request_transition


def forget_request_screen(*, request_id: int) -> ForgetRequest:
    """Move a verified request through screening into review; safe to run twice."""
    with transaction.atomic():
        req = ForgetRequest.objects.select_for_update().get(pk=request_id)
        if req.status == Status.VERIFIED:
            req = forget_request_transition(request_id=request_id, to=Status.SCREENING, actor=Actor.system())
        if req.status != Status.SCREENING:
            return req  # already screened, withdrawn, or not yet confirmed: nothing to do
    return forget_request_transition(request_id=request_id, to=Status.IN_REVIEW, actor=Actor.system())
