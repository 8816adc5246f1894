"""The request lifecycle: allowed transitions, refusals, races, the GDPR clock."""

import threading
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from palimpsest.errors import ApplicationError
from requests_app.audit import Actor
from requests_app.intake.services import forget_request_expire_unconfirmed
from requests_app.models import FINAL_STATUSES, AuditEvent, ForgetRequest, Status
from requests_app.review.services import forget_request_extend_deadline
from requests_app.screening.selectors import forget_requests_stalled_in_screening
from requests_app.services import ALLOWED, forget_request_transition
from tests.requests_app.factories import make_request

ALL_PAIRS = [(a, b) for a in Status for b in Status]
ALLOWED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED.get(a, ())]
REFUSED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED.get(a, ())]


def test_the_table_matches_the_design():
    # Given the lifecycle of DESIGN.md, every open state can be withdrawn until unlearning starts.
    for status in (
        Status.SUBMITTED,
        Status.VERIFIED,
        Status.SCREENING,
        Status.IN_REVIEW,
        Status.NEEDS_INFO,
        Status.APPROVED,
    ):
        assert Status.CANCELLED in ALLOWED[status]
    for final in (Status.COMPLETED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED):
        assert final not in ALLOWED
    assert len(ALLOWED_PAIRS) == 21


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
def test_every_allowed_transition_works_and_writes_one_audit_event(source, target):
    # Given a request in `source`
    req = make_request(status=source)
    before = AuditEvent.objects.count()
    # When it moves to `target`
    forget_request_transition(request_id=req.pk, to=target, actor=Actor.system(), note="checked by a test")
    # Then the row changed and exactly one audit event says so
    req.refresh_from_db()
    assert req.status == target
    events = list(AuditEvent.objects.order_by("seq")[before:])
    # (closing a request also erases its texts, which is an event of its own)
    closing = ["request.texts_erased"] if target in FINAL_STATUSES else []
    assert [e.action for e in events] == ["request.transition", *closing]
    assert events[0].data["from"] == source and events[0].data["to"] == target
    assert events[0].object_id == str(req.pk)
    assert "note" not in events[0].data and len(events[0].data["note_sha256"]) == 64


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS)
def test_every_other_transition_is_refused_and_changes_nothing(source, target):
    req = make_request(status=source)
    snapshot = ForgetRequest.objects.values().get(pk=req.pk)
    before = AuditEvent.objects.count()
    with pytest.raises(ApplicationError, match="cannot become"):
        forget_request_transition(request_id=req.pk, to=target, actor=Actor.system())
    assert ForgetRequest.objects.values().get(pk=req.pk) == snapshot
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_confirming_the_identity_starts_a_one_month_clock():
    req = make_request()
    before = timezone.now()
    forget_request_transition(request_id=req.pk, to=Status.VERIFIED, actor=Actor.subject())
    req.refresh_from_db()
    assert before <= req.verified_at <= timezone.now()
    assert req.due_at == req.original_due_at == req.verified_at + relativedelta(months=1)


@pytest.mark.django_db
def test_extension_needs_a_reason_and_stops_at_two_further_months(officer):
    req = make_request()
    for status in (Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW):
        forget_request_transition(request_id=req.pk, to=status, actor=Actor.subject())
    req.refresh_from_db()
    with pytest.raises(ApplicationError, match="reason"):
        forget_request_extend_deadline(
            request_id=req.pk, new_due_at=req.due_at + timedelta(days=10), reason=" ", officer=officer
        )
    too_far = req.original_due_at + relativedelta(months=2) + timedelta(days=1)
    with pytest.raises(ApplicationError, match="two further months"):
        forget_request_extend_deadline(
            request_id=req.pk, new_due_at=too_far, reason="complex request", officer=officer
        )
    ext = forget_request_extend_deadline(
        request_id=req.pk,
        new_due_at=req.original_due_at + relativedelta(months=2),
        reason="Many items to verify",
        officer=officer,
    )
    assert ext.request.due_at == req.original_due_at + relativedelta(months=2)
    assert ext.request.extension_reason == "Many items to verify"
    event = AuditEvent.objects.filter(action="request.extend").get()
    assert "Many items" not in str(event.data)


@pytest.mark.django_db
def test_unconfirmed_requests_expire_after_a_day_and_others_do_not():
    stale = make_request()
    ForgetRequest.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(hours=25))
    fresh = make_request()
    confirmed = make_request(status=Status.VERIFIED)
    ForgetRequest.objects.filter(pk=confirmed.pk).update(received_at=timezone.now() - timedelta(days=3))
    assert forget_request_expire_unconfirmed() == [stale.pk]
    assert forget_request_expire_unconfirmed() == []  # safe to run twice
    statuses = dict(ForgetRequest.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: Status.EXPIRED, fresh.pk: Status.SUBMITTED, confirmed.pk: Status.VERIFIED}


@pytest.mark.django_db(transaction=True)
def test_two_connections_racing_on_one_request_exactly_one_wins():
    # Given a request in review and two officers deciding it at the same moment on their own connections
    req = make_request(status=Status.IN_REVIEW)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(target):
        try:
            barrier.wait(timeout=10)
            forget_request_transition(
                request_id=req.pk, to=target, actor=Actor.system(), expected=Status.IN_REVIEW
            )
            outcomes[target] = "won"
        except ApplicationError as error:
            outcomes[target] = f"refused: {error.message}"
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(t,)) for t in (Status.APPROVED, Status.REJECTED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then exactly one decision landed and the other got a clear message
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["refused", "won"]
    req.refresh_from_db()
    winner = next(t for t, v in outcomes.items() if v == "won")
    assert req.status == winner
    assert AuditEvent.objects.filter(action="request.transition", object_id=str(req.pk)).count() == 1


@pytest.mark.django_db
def test_screening_that_never_started_or_died_is_found_for_the_sweep():
    lost = make_request(status=Status.VERIFIED)
    died = make_request(status=Status.SCREENING)
    running = make_request(status=Status.SCREENING)
    just_confirmed = make_request(status=Status.VERIFIED)
    now = timezone.now()
    ForgetRequest.objects.filter(pk=lost.pk).update(updated_at=now - timedelta(minutes=6))
    ForgetRequest.objects.filter(pk=died.pk).update(updated_at=now - timedelta(minutes=31))
    ForgetRequest.objects.filter(pk=running.pk).update(updated_at=now - timedelta(minutes=10))
    assert forget_requests_stalled_in_screening() == sorted([lost.pk, died.pk])
    assert just_confirmed.pk not in forget_requests_stalled_in_screening()
