"""The officer API cannot be driven by another site through a signed-in officer's browser: no HTTP Basic
(which browsers replay on their own), no form bodies, CSRF on sessions; integrations use tokens."""

import base64

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from requests_app.models import ForgetRequest, Status
from requests_app.staff import services as staff_services
from tests.conftest import PASSWORD
from tests.requests_app.factories import in_review

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]


def decision_url(req) -> str:
    return reverse("api-forget-request-decision", kwargs={"id": req.public_id})


def test_http_basic_credentials_are_not_accepted(officer):
    # Given an officer's username and password sent the way a browser replays them cross-site
    req = in_review()
    basic = base64.b64encode(f"{officer.username}:{PASSWORD}".encode()).decode()
    response = Client().post(
        decision_url(req), {"decision": "approve"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )  # fmt: skip
    # Then the call is not authenticated and nothing changed
    assert response.status_code == 401
    assert not response.get("WWW-Authenticate", "").startswith("Basic")
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW


def test_a_form_body_is_refused_even_with_a_valid_session(officer):
    # Given a signed-in officer whose browser a hostile page makes post an HTML form (no preflight)
    req = in_review()
    client = Client()
    client.force_login(officer)
    response = client.post(decision_url(req), {"decision": "approve"})
    # Then the API answers 415 and nothing changed
    assert response.status_code == 415, response.content
    assert "application/json" in response.json()["error"]
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW


def test_a_session_call_needs_the_csrf_token(officer):
    req = in_review()
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    refused = client.post(decision_url(req), {"decision": "approve"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    # With the token (as the officer's own pages send it) the same call goes through
    client.get(reverse("review:queue"))
    token = client.cookies["csrftoken"].value
    allowed = client.post(
        decision_url(req), {"decision": "approve"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert allowed.status_code == 200, allowed.content


def test_an_integration_uses_a_token_kept_only_as_a_hash(officer):
    # Given an API token made for an officer's integration
    key = staff_services.api_token_create(user=officer, name="case system")
    assert officer.api_tokens.get().key_sha256 != key and key not in str(officer.api_tokens.values())
    req = in_review()
    api = APIClient()
    # Then it authenticates JSON calls without a session or CSRF token
    response = api.post(
        decision_url(req), {"decision": "approve"}, format="json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 200, response.content
    # And a wrong or revoked token does not
    assert api.get(reverse("api-review-queue"), HTTP_AUTHORIZATION="Token wrong").status_code == 401
    officer.api_tokens.update(revoked=True)
    assert api.get(reverse("api-review-queue"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
