"""The identity check: the e-mailed code and one-time link, expiry, lock-out, and the hand-over to screening."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.models import AuditEvent, ForgetRequest, IdentityCheck, Status
from tests.requests_app.intake.support import code_in, form_data, link_to

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


def ask_new_code(client, req, capture):
    with capture(execute=True):
        return client.post(f"/forget/{req.public_id}/confirm/new-code/")


def age_last_e_mail(req, minutes: int = 2):
    """Pretend the last code went out `minutes` ago (the one-a-minute rule)."""
    check = IdentityCheck.objects.get(request=req)
    earlier = timezone.now() - timedelta(minutes=minutes)
    IdentityCheck.objects.filter(pk=check.pk).update(
        created_at=earlier, last_sent_at=check.last_sent_at and earlier
    )


@pytest.mark.django_db
def test_a_lost_e_mail_can_be_replaced_and_the_old_code_stops_working(
    client, submitted, mailoutbox, django_capture_on_commit_callbacks
):
    req, receipt = submitted
    old_code = code_in(receipt)
    expires = IdentityCheck.objects.get(request=req).expires_at
    assert b"Send me a new code" in client.get(f"/forget/{req.public_id}/confirm/").content

    # Too soon after the first e-mail: refused, nothing sent
    response = ask_new_code(client, req, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and len(mailoutbox) == 1
    assert b"less than a minute ago" in client.get(response.url).content

    age_last_e_mail(req)
    response = ask_new_code(client, req, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response.url == f"/forget/{req.public_id}/confirm/"
    assert b"We have sent you a new code" in client.get(response.url).content
    renewed = mailoutbox[-1]
    assert len(mailoutbox) == 2 and "Your new confirmation code" in renewed.subject
    assert "no longer work" in renewed.body and "within 24 hours" not in renewed.body
    new_code = code_in(renewed)
    check = IdentityCheck.objects.get(request=req)
    assert check.expires_at == expires and check.codes_sent == 2  # no extra time
    assert new_code not in str(list(AuditEvent.objects.values_list("data", flat=True)))
    assert AuditEvent.objects.filter(action="identity.code_resent", object_id=str(req.pk)).count() == 1

    # The old code and the old link are dead; the new code confirms
    if old_code != new_code:
        assert confirm_with(client, req, old_code, django_capture_on_commit_callbacks).status_code == 400
    assert (
        client.post(
            f"/forget/{req.public_id}/confirm/", {"k": link_to(receipt, "k=").split("k=")[1]}
        ).status_code
        == 400
    )
    response = confirm_with(client, req, new_code, django_capture_on_commit_callbacks)
    req.refresh_from_db()
    assert response.status_code == 302 and req.status == Status.VERIFIED


@pytest.mark.django_db
def test_new_codes_are_limited_and_never_reset_the_count_of_wrong_tries(
    client, submitted, mailoutbox, django_capture_on_commit_callbacks
):
    req, receipt = submitted
    confirm_with(client, req, wrong(code_in(receipt)), django_capture_on_commit_callbacks)
    for _ in range(2):
        age_last_e_mail(req)
        ask_new_code(client, req, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 3
    check = IdentityCheck.objects.get(request=req)
    assert check.codes_sent == 3 and check.failed_attempts == 1

    age_last_e_mail(req)
    response = ask_new_code(client, req, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 3
    assert b"We have sent 3 codes for this request already" in client.get(response.url).content

    # A confirmed request gets no new code
    confirm_with(client, req, code_in(mailoutbox[-1]), django_capture_on_commit_callbacks)
    IdentityCheck.objects.filter(request=req).update(codes_sent=1)
    age_last_e_mail(req)
    response = ask_new_code(client, req, django_capture_on_commit_callbacks)
    assert b"already confirmed" in client.get(response.url).content
    assert len(mailoutbox) == 4  # the receipt, two new codes, the verified e-mail
