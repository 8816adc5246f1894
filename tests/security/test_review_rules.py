"""Who may see and decide a case: an officer never decides their own request (whatever the spelling of the
address, and not when the account has no address to compare), and a user who may only extend deadlines
never sees the case."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from requests_app.models import ForgetRequest, Status
from tests.requests_app.factories import in_review

pytestmark = pytest.mark.django_db


def approve(client, req):
    return client.post(
        reverse("api-forget-request-decision", kwargs={"id": req.public_id}),
        {"decision": "approve"},
        content_type="application/json",
    )


@pytest.mark.parametrize(
    "requester_email",
    ["olga+forget@palimpsest.invalid", "Olga+x@PALIMPSEST.invalid", " olga@palimpsest.invalid "],
)
def test_an_officer_cannot_decide_their_own_request_sent_from_an_alias(client, officer, requester_email):
    # Given a request the officer sent from a sub-address of their own mailbox
    req = in_review(requester_email=requester_email)
    client.force_login(officer)
    # Then they may not decide it
    response = approve(client, req)
    assert response.status_code == 400 and "another officer" in response.json()["error"]
    assert not ForgetRequest.objects.get(pk=req.pk).votes.exists()


def test_gmail_dots_are_the_same_mailbox(client, officer):
    officer.email = "olga.mark@gmail.com"
    officer.save()
    req = in_review(requester_email="OlgaMark+erase@googlemail.com")
    client.force_login(officer)
    assert approve(client, req).status_code == 400


def test_an_officer_without_an_e_mail_address_cannot_decide(client, officer):
    # Given an officer account with no address, so that their own requests cannot be recognised
    officer.email = ""
    officer.save()
    req = in_review()
    client.force_login(officer)
    response = approve(client, req)
    assert response.status_code == 400 and "e-mail address" in response.json()["error"]
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW


def test_an_extend_only_user_never_sees_the_case_even_on_an_invalid_form(client, make_user):
    # Given a user who may extend deadlines but not decide (nor read) cases
    user = make_user("exa")
    user.user_permissions.add(Permission.objects.get(codename="extend_forgetrequest"))
    req = in_review(requester_name="Ana Vell")
    client.force_login(user)
    # When they send an invalid extension form
    response = client.post(reverse("review:extend", kwargs={"public_id": req.public_id}), {"reason": ""})
    # Then the answer names the problem but shows nothing of the case
    body = response.content.decode()
    assert response.status_code == 400
    assert "Ana Vell" not in body and "Quay Road" not in body and "ana.vell@" not in body
    assert "new deadline" in body.lower()
