"""The status page: tokens, timeline, deadline, withdrawal, answering a question, and the later e-mails."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction

from requests_app import services
from requests_app.audit import Actor
from requests_app.intake import emails
from requests_app.intake.identity import status_token
from requests_app.models import AuditEvent, ForgetItem, ForgetRequest, RequestMessage, Status
from requests_app.review import services as review_services
from tests.requests_app.factories import make_request
from tests.requests_app.intake.support import code_in, form_data, link_to

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]


def status_url(req) -> str:
    return f"/forget/status/{req.public_id}/?t={status_token(req.public_id)}"


def move(req, *statuses):
    for target in statuses:
        services.forget_request_transition(request_id=req.pk, to=target, actor=Actor.system())
    req.refresh_from_db()
    return req


def test_wrong_or_missing_tokens_answer_404_like_an_unknown_id(client):
    req = make_request()
    other = make_request()
    base = f"/forget/status/{req.public_id}/"
    unknown = "/forget/status/11111111-1111-4111-8111-111111111111/"
    answers = [
        client.get(base),
        client.get(f"{base}?t="),
        client.get(f"{base}?t=guess"),
        client.get(f"{base}?t={status_token(other.public_id)}"),  # another request's token
        client.get(f"{unknown}?t={status_token('11111111-1111-4111-8111-111111111111')}"),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert client.get(status_url(req)).status_code == 200


def test_the_page_tells_the_story_in_plain_words(client, officer):
    # Given a request confirmed, screened and put in review, whose deadline was extended
    req = move(make_request(), Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW)
    review_services.forget_request_extend_deadline(
        request_id=req.pk,
        new_due_at=req.due_at + timedelta(days=20),
        reason="Your request covers many documents.",
        officer=officer,
    )
    req.refresh_from_db()
    # When the person opens the status page
    html = client.get(status_url(req)).content.decode()
    # Then they read what happened, the deadline with its extension and reason, and what comes next
    assert "You confirmed your e-mail address" in html
    assert "We started checking what you sent" in html
    assert "A compliance officer is reviewing your request" in html
    assert f"We extended the deadline to {req.due_at:%d %B %Y}" in html
    assert "Your request covers many documents." in html
    assert f"{req.due_at.day} {req.due_at:%B %Y}" in html and "extended from" in html
    assert "A compliance officer will decide" in html
    assert "Withdraw my request" in html
    assert html.index("You confirmed") < html.index("A compliance officer is reviewing")


def test_withdrawal_cancels_and_erases_the_texts(client):
    req = move(make_request(texts=("Ana Vell lives at 4 Quay Road.",)), Status.VERIFIED)
    response = client.post(
        f"/forget/status/{req.public_id}/withdraw/", {"t": status_token(req.public_id)}, follow=True
    )
    req.refresh_from_db()
    assert req.status == Status.CANCELLED and req.closed_at is not None
    item = ForgetItem.objects.get(request=req)
    assert item.text == "" and item.text_deleted_at is not None and len(item.sha256) == 64
    html = response.content.decode()
    assert "Your request is withdrawn" in html and "You withdrew the request." in html
    assert "Withdraw my request" not in html


def test_withdrawal_needs_the_token(client):
    req = make_request()
    assert client.post(f"/forget/status/{req.public_id}/withdraw/", {"t": "nope"}).status_code == 404
    req.refresh_from_db()
    assert req.status == Status.SUBMITTED


def test_no_withdrawal_once_unlearning_has_started(client):
    req = move(
        make_request(),
        Status.VERIFIED,
        Status.SCREENING,
        Status.IN_REVIEW,
        Status.APPROVED,
        Status.UNLEARNING,
    )
    assert b"Withdraw my request" not in client.get(status_url(req)).content
    response = client.post(
        f"/forget/status/{req.public_id}/withdraw/", {"t": status_token(req.public_id)}, follow=True
    )
    assert b"can no longer be withdrawn" in response.content
    req.refresh_from_db()
    assert req.status == Status.UNLEARNING


def test_a_question_is_emailed_and_the_answer_returns_the_request_to_screening(
    client, mailoutbox, make_user, django_capture_on_commit_callbacks
):
    # Given a request in review, an officer asks a question
    req = move(make_request(), Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW)
    officer = make_user("officer", "compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        review_services.forget_request_needs_info(
            request_id=req.pk, question="Is the address at Quay Road yours?", officer=officer
        )
    message = mailoutbox[-1]
    assert "Is the address at Quay Road yours?" in message.body
    # When the person follows the e-mailed link and answers
    page = client.get(link_to(message, "/forget/status/"))
    assert b"Is the address at Quay Road yours?" in page.content and b"Send my answer" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/forget/status/{req.public_id}/reply/",
            {"t": status_token(req.public_id), "body": "Yes, I lived there until 2021."},
        )
    # Then the answer is kept with the request and the request is screened again
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == Status.SCREENING
    assert (
        RequestMessage.objects.filter(request=req, author="subject").get().body
        == "Yes, I lived there until 2021."
    )
    reply_event = AuditEvent.objects.get(action="request.reply")
    assert "2021" not in str(reply_event.data)
    assert b"You answered our question" in client.get(status_url(req)).content


def test_an_empty_answer_is_refused(client):
    req = move(make_request(), Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW, Status.NEEDS_INFO)
    response = client.post(
        f"/forget/status/{req.public_id}/reply/", {"t": status_token(req.public_id), "body": " "}
    )
    assert response.status_code == 400 and b"id_body_error" in response.content
    req.refresh_from_db()
    assert req.status == Status.NEEDS_INFO


def test_rejection_extension_and_completion_mails_carry_working_links(client, officer):
    req = move(make_request(), Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW)
    review_services.forget_request_extend_deadline(
        request_id=req.pk,
        new_due_at=req.due_at + timedelta(days=30),
        reason="Many items.",
        officer=officer,
    )
    req.refresh_from_db()
    emails.send_extended(req)
    emails.send_rejected(req, "The texts are not about you.")
    emails.send_completed(req, "http://127.0.0.1:8000/certificates/abc/")
    extended, rejected, completed = mail.outbox
    assert "Many items." in extended.body and f"{req.due_at:%B %Y}" in extended.body
    assert "The texts are not about you." in rejected.body and "supervisory authority" in rejected.body
    assert "Articles 12(4) and 77 GDPR" in rejected.body
    assert "http://127.0.0.1:8000/certificates/abc/" in completed.body
    for message in (extended, rejected, completed):
        assert message.alternatives and message.alternatives[0][1] == "text/html"
        assert client.get(link_to(message, "/forget/status/")).status_code == 200


def test_no_personal_data_in_the_logs(client, mailoutbox, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/forget/", form_data(name="Zelda Quorn", email="zelda.quorn@example.org"))
    req = ForgetRequest.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/forget/{req.public_id}/confirm/", {"code": code_in(mailoutbox[0])})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sent e-mail receipt" in logged
    for secret in ("Zelda", "zelda.quorn", "Quay Road", code_in(mailoutbox[0])):
        assert secret not in logged


def test_a_change_that_fails_its_tests_is_told_once_per_attempt(client):
    # Given a request whose first unlearned model failed verification and which was unlearned again
    req = move(make_request(), Status.VERIFIED, Status.SCREENING, Status.IN_REVIEW, Status.APPROVED)
    req = move(req, Status.UNLEARNING, Status.VERIFYING)
    with transaction.atomic():
        locked = services.lock_request(request_id=req.pk)
        services.apply_transition(
            locked, to=Status.APPROVED, actor=Actor.system(), action="verification.failed"
        )
    req = move(req, Status.UNLEARNING, Status.VERIFYING)
    # When the person opens the status page
    html = client.get(status_url(req)).content.decode()
    # Then they read that the tests failed and that this is the second attempt, not the same lines twice
    assert "The changed model did not pass our tests" in html
    assert html.count("The model is being changed so that it forgets (unlearning).") == 1
    assert "The model is being changed so that it forgets (unlearning), attempt 2." in html
    assert "no longer reveals what you asked us to forget, attempt 2." in html
    assert "did not finish" not in html
