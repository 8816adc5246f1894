"""The deploy checklist on real responses: the security headers of the production settings on pages and the
API, and no personal data in what the application logs while handling a request."""

import logging

import pytest
from rest_framework.test import APIClient

from requests_app.models import ForgetRequest
from tests.requests_app.intake.support import code_in, form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]


@pytest.fixture
def production_headers(settings):
    # The values palimpsest.settings_production sets (its own check --deploy test runs in test_platform.py)
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


@pytest.mark.parametrize(
    "path", ["/", "/forget/", "/accounts/login/", "/api/v1/schema/", "/api/v1/review-queue/"]
)
def test_every_response_carries_the_security_headers(client, production_headers, path):
    response = client.get(path, secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_handling_a_request_logs_no_personal_data(
    client, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    secrets_of_the_person = ["Ana Vell", "ana.vell@example.org", "Quay Road", "asthma"]
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/forget/", form_data())
    req_id = ForgetRequest.objects.get().public_id
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post(f"/api/v1/forget-requests/{req_id}/verify", {"code": "000000"}, format="json")
        client.post("/forget/", form_data(email="not-an-address"))
    code = code_in(mailoutbox[0])
    assert any("identity" in r.getMessage() or "Bad Request" in r.getMessage() for r in caplog.records)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the test saw the application's log"
    for secret in [*secrets_of_the_person, code]:
        assert secret not in logged, secret
