"""Two officers deciding the same request at once, on their own database connections: one wins."""

import threading

import pytest
from django.db import connection

from palimpsest.errors import ApplicationError
from requests_app.models import ApprovalVote, AuditEvent, ForgetRequest, Status
from requests_app.review import services as review_services
from tests.requests_app.factories import in_review, screened


def _race(*calls) -> list[str]:
    """Run the calls at the same moment in threads (each its own connection); 'won' or the refusal."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[index] = "won"
        except ApplicationError as error:
            outcomes[index] = error.message
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_approve_and_reject_at_once_one_wins_the_other_is_told(officer, second_officer):
    req = in_review()
    screened(req, risk="low")
    outcomes = _race(
        lambda: review_services.forget_request_approve(request_id=req.pk, officer=officer),
        lambda: review_services.forget_request_reject(
            request_id=req.pk, officer=second_officer, reason="Legal claims"
        ),
    )
    assert sorted(o == "won" for o in outcomes) == [False, True]
    loser = next(o for o in outcomes if o != "won")
    assert "someone else has already acted on it" in loser
    final = ForgetRequest.objects.get(pk=req.pk).status
    assert final == (Status.APPROVED if outcomes[0] == "won" else Status.REJECTED)
    # One status change was recorded: the decision's own audit event carries it.
    transitions = AuditEvent.objects.filter(object_id=str(req.pk), data__has_key="to")
    assert transitions.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_officers_approving_a_high_risk_request_at_once_approve_it_once(officer, second_officer):
    req = in_review()
    screened(req, risk="high")
    outcomes = _race(
        lambda: review_services.forget_request_approve(request_id=req.pk, officer=officer),
        lambda: review_services.forget_request_approve(request_id=req.pk, officer=second_officer),
    )
    assert outcomes == ["won", "won"]  # both votes count: the row lock puts them one after the other
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.APPROVED
    assert AuditEvent.objects.filter(action="review.approve", object_id=str(req.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_officer_double_submitting_counts_once(officer):
    req = in_review()
    screened(req, risk="high")
    outcomes = _race(
        *[lambda: review_services.forget_request_approve(request_id=req.pk, officer=officer)] * 2
    )
    assert sorted(outcomes) == sorted(
        ["won", "You have already approved this request. A second, different officer must approve it too."]
    )
    assert ApprovalVote.objects.filter(request=req).count() == 1
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW
