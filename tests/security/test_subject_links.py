"""The requester's credentials: the status link is handed out only to whoever holds the e-mailed code, it
expires and can be revoked; the confirmation link cannot be used to lock a request; another person cannot
block an address by submitting in its name."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from requests_app.intake.identity import status_token
from requests_app.models import AuditEvent, ForgetRequest, Status
from tests.requests_app.intake.support import code_in, form_data, link_to, local
from tests.requests_app.intake.test_api_forget_requests import body as api_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
API = "/api/v1/forget-requests/"


def test_the_api_hands_out_the_status_link_only_after_the_e_mail_is_confirmed(
    mailoutbox, django_capture_on_commit_callbacks
):
    # Given someone who files a request in a victim's name through the API
    attacker = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        created = attacker.post(API, api_body(), format="json")
    assert created.status_code == 201
    req = ForgetRequest.objects.get()
    # Then the answer names the request but carries no status link and no token
    assert created.json() == {"id": str(req.public_id), "status": "submitted"}
    assert status_token(req.public_id) not in created.content.decode()
    # And whoever holds the e-mailed code gets the link when confirming
    with django_capture_on_commit_callbacks(execute=True):
        verified = APIClient().post(
            f"{API}{req.public_id}/verify", {"code": code_in(mailoutbox[0])}, format="json"
        )
    assert verified.status_code == 200
    assert APIClient().get(local(verified.json()["status_url"])).status_code == 200


def test_a_status_link_expires(client, settings):
    # Given a confirmed request and a link e-mailed longer ago than links live
    settings.PALIMPSEST_STATUS_LINK_DAYS = 30
    req = ForgetRequest.objects.create(
        kind="corpus", requester_name="Ana", requester_email="a@example.org", jurisdiction="DE",
        legal_ground="a", status=Status.VERIFIED,
    )  # fmt: skip
    url = f"/forget/status/{req.public_id}/"
    old = status_token(req.public_id, issued_at=timezone.now() - timedelta(days=31))
    fresh = status_token(req.public_id, issued_at=timezone.now() - timedelta(days=29))
    # Then the old one opens nothing, exactly like a wrong token, and the fresh one works
    assert client.get(url, {"t": old}).status_code == 404
    assert client.get(url, {"t": fresh}).status_code == 200
    assert APIClient().get(f"{API}{req.public_id}", {"t": old}).status_code == 404


def test_the_requester_can_revoke_every_link_and_gets_a_new_one(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    # Given a confirmed request whose status link leaked (a forwarded e-mail, a shared screen)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/forget/", form_data())
    req = ForgetRequest.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/forget/{req.public_id}/confirm/", {"code": code_in(mailoutbox[0])})
    leaked = link_to(mailoutbox[-1], "/forget/status/")
    assert client.get(leaked).status_code == 200
    # When the requester stops all links from the status page
    token = leaked.split("t=", 1)[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/forget/status/{req.public_id}/revoke-links/", {"t": token})
    assert response.status_code == 302
    # Then the leaked link opens nothing, and a new one goes to the requester's address only
    assert client.get(leaked).status_code == 404
    renewed = mailoutbox[-1]
    assert renewed.to == ["ana.vell@example.org"] and "new link" in renewed.subject.lower()
    assert client.get(link_to(renewed, "/forget/status/")).status_code == 200
    assert AuditEvent.objects.filter(action="request.status_links_revoked").count() == 1


def test_a_lost_status_link_can_be_sent_again_to_the_requester_only(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    req = ForgetRequest.objects.create(
        kind="corpus", requester_name="Ana", requester_email="ana@example.org", jurisdiction="DE",
        legal_ground="a", status=Status.IN_REVIEW,
    )  # fmt: skip
    # The page behind an expired or wrong link offers to e-mail a fresh one, and says the same for any id
    page = client.get(f"/forget/status/{req.public_id}/", {"t": "expired"})
    assert page.status_code == 404 and b"new-link" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/forget/status/{req.public_id}/new-link/")
        unknown = client.post("/forget/status/11111111-1111-4111-8111-111111111111/new-link/")
    assert response.status_code == unknown.status_code == 200
    assert response.content.replace(str(req.public_id).encode(), b"") == unknown.content.replace(
        b"11111111-1111-4111-8111-111111111111", b""
    )
    assert [m.to for m in mailoutbox] == [["ana@example.org"]]
    assert client.get(link_to(mailoutbox[0], "/forget/status/")).status_code == 200


def test_wrong_link_tokens_do_not_lock_the_confirmation(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    # Given a request, and a stranger who knows its id (not the code, not the link)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/forget/", form_data())
    req = ForgetRequest.objects.get()
    stranger = APIClient()
    for attempt in range(8):
        refused = stranger.post(
            f"{API}{req.public_id}/verify", {"link_token": f"forged-{attempt}"}, format="json"
        )
        assert refused.status_code == 400
    # Then the requester's code still confirms
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/forget/{req.public_id}/confirm/", {"code": code_in(mailoutbox[0])})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == Status.VERIFIED


def test_submissions_in_a_victims_name_from_elsewhere_do_not_block_the_victim(client, settings):
    # Given someone who files the most requests a day allowed for an address, in the victim's name
    settings.PALIMPSEST_RATE_LIMITS = {"submit-email": (5, 24 * 3600), "submit-ip": (100, 3600)}
    for _ in range(5):
        assert client.post("/forget/", form_data(), REMOTE_ADDR="203.0.113.9").status_code == 302
    assert client.post("/forget/", form_data(), REMOTE_ADDR="203.0.113.9").status_code == 429
    # Then the victim, from their own address, can still ask
    assert client.post("/forget/", form_data(), REMOTE_ADDR="198.51.100.7").status_code == 302
    assert ForgetRequest.objects.count() == 6
