"""The identity check: the e-mailed code and one-time link, expiry, lock-out, and the hand-over to screening."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.models import AuditEvent, ForgetRequest, IdentityCheck, Status
from tests.requests_app.portal_support import code_in, form_data, isolated_cache, link_to  # noqa: F401

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def submitted(client, mailoutbox, django_capture_on_commit_callbacks):
    """A request sent through the form; returns it with its receipt e-mail."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/forget/", form_data())
    return ForgetRequest.objects.get(), mailoutbox[-1]


def confirm_with(client, req, code, capture):
    with capture(execute=True):
        return client.post(f"/forget/{req.public_id}/confirm/", {"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.django_db
def test_the_code_is_stored_only_as_a_hash(submitted):
    req, receipt = submitted
    code = code_in(receipt)
    check = IdentityCheck.objects.get(request=req)
    assert code not in check.code_hash and len(check.code_hash) == 64
    assert check.expires_at - check.created_at == pytest.approx(timedelta(hours=24), abs=timedelta(seconds=5))
    assert code not in str(list(AuditEvent.objects.values_list("data", flat=True)))


@pytest.mark.django_db
def test_the_right_code_confirms_starts_the_clock_and_sends_the_verified_mail(
    client, submitted, mailoutbox, django_capture_on_commit_callbacks
):
    req, receipt = submitted
    response = confirm_with(client, req, code_in(receipt), django_capture_on_commit_callbacks)
    req.refresh_from_db()
    assert req.status == Status.VERIFIED and req.due_at is not None
    assert response.status_code == 302 and response.url.startswith(f"/forget/status/{req.public_id}/?t=")
    page = client.get(response.url)
    assert page.status_code == 200 and b"email address is confirmed" in page.content.replace(
        b"e-mail", b"email"
    )
    verified = mailoutbox[-1]
    assert "We have received your erasure request" in verified.subject
    assert client.get(link_to(verified, "/forget/status/")).status_code == 200


@pytest.mark.django_db
def test_a_wrong_code_is_counted_and_the_fifth_locks_the_request(
    client, submitted, django_capture_on_commit_callbacks
):
    req, receipt = submitted
    code = code_in(receipt)
    for attempt in range(1, 5):
        response = confirm_with(client, req, wrong(code), django_capture_on_commit_callbacks)
        assert response.status_code == 400
        assert f"You have {5 - attempt} tr" in response.content.decode()
    response = confirm_with(client, req, wrong(code), django_capture_on_commit_callbacks)
    assert "locked after too many wrong codes" in response.content.decode()
    # Even the right code is refused now.
    response = confirm_with(client, req, code, django_capture_on_commit_callbacks)
    assert "locked" in response.content.decode()
    req.refresh_from_db()
    check = IdentityCheck.objects.get(request=req)
    assert req.status == Status.SUBMITTED and check.failed_attempts == 5 and check.locked_at is not None
    assert AuditEvent.objects.filter(action="identity.failed").count() == 5


@pytest.mark.django_db
def test_an_expired_code_is_refused(client, submitted, django_capture_on_commit_callbacks):
    req, receipt = submitted
    IdentityCheck.objects.filter(request=req).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = confirm_with(client, req, code_in(receipt), django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "has expired" in response.content.decode()
    req.refresh_from_db()
    assert req.status == Status.SUBMITTED


@pytest.mark.django_db
def test_a_malformed_code_is_refused_without_counting(client, submitted, django_capture_on_commit_callbacks):
    req, _ = submitted
    response = confirm_with(client, req, "12ab", django_capture_on_commit_callbacks)
    assert "six digits" in response.content.decode()
    assert IdentityCheck.objects.get(request=req).failed_attempts == 0


@pytest.mark.django_db
def test_the_emailed_link_confirms_once(client, submitted, django_capture_on_commit_callbacks):
    req, receipt = submitted
    link = link_to(receipt, "/confirm/?k=")
    # Opening the link (as a mail scanner would) confirms nothing: it shows a button.
    page = client.get(link)
    assert page.status_code == 200 and b"Confirm my request" in page.content
    req.refresh_from_db()
    assert req.status == Status.SUBMITTED
    token = link.split("k=", 1)[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/forget/{req.public_id}/confirm/", {"k": token})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == Status.VERIFIED
    again = client.post(f"/forget/{req.public_id}/confirm/", {"k": token})
    assert again.status_code == 400 and "already confirmed" in again.content.decode()


@pytest.mark.django_db
def test_confirming_an_unknown_request_is_404(client):
    assert client.get("/forget/00000000-0000-4000-8000-000000000000/confirm/").status_code == 404


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_confirmation_hands_the_request_to_screening_on_a_real_worker(
    client, mailoutbox, celery_worker_process
):
    # Given a submitted request (on_commit runs for real: this test commits)
    client.post("/forget/", form_data())
    req = ForgetRequest.objects.get()
    # When the person confirms
    client.post(f"/forget/{req.public_id}/confirm/", {"code": code_in(mailoutbox[0])})
    # Then the worker picks the request up and screening moves it on
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        req.refresh_from_db()
        if req.status not in (Status.SUBMITTED, Status.VERIFIED):
            break
        time.sleep(0.2)
    assert req.status in (Status.SCREENING, Status.IN_REVIEW)
