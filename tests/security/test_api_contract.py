"""What the schema fuzzer found (tests/security/test_api_fuzz.py), pinned one by one: every API answer is
JSON in the documented error shape, query parameters of the wrong type are refused by name, the jobs API
takes the staff API's credentials (no HTTP Basic), and no JSON body reaches a RecursionError."""

import base64

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from requests_app.staff import services as staff_services
from tests.conftest import PASSWORD
from verification.generation.services import api_token_issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]


def test_an_api_address_that_matches_no_route_answers_json():
    # Given a request id that is not a UUID (no URL pattern matches it)
    response = Client(raise_request_exception=False).get("/api/v1/forget-requests/not-a-uuid")
    # Then the API client gets the error shape it reads everywhere else, not an HTML page
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and "error" in response.json()
    # And a page outside the API keeps its HTML error page
    page = Client(raise_request_exception=False).get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("name", "query", "field"),
    [
        ("api-review-queue", {"page": "x"}, "page"),
        ("api-review-queue", {"page": "0"}, "page"),
        ("api-review-queue", {"risk": ""}, "risk"),
        ("api-review-queue", {"status": "approved"}, "status"),
        ("api-review-queue", {"kind": "everything"}, "kind"),
        ("api-review-queue", {"overdue": "maybe"}, "overdue"),
        ("api-jobs", {"page": "1e3"}, "page"),
        ("api-jobs", {"status": ""}, "status"),
    ],
)
def test_a_query_parameter_outside_the_schema_is_refused_by_name(make_user, job_roles, name, query, field):
    # Given a staff member who may read both lists
    client = APIClient()
    client.force_authenticate(make_user("sam", "compliance_officer", "ml_operator"))
    # When a parameter is not what the schema says (it used to be read as "no filter" or "page 1")
    response = client.get(reverse(name), query)
    # Then the answer is a 400 that names it
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and field in response.json()["error"]
    # And the same list without it answers
    assert client.get(reverse(name)).status_code == 200


def test_the_jobs_api_takes_staff_tokens_and_refuses_http_basic(make_user, job_roles):
    # Given an ML operator with a password and an API token
    operator = make_user("mo", "ml_operator")
    key = staff_services.api_token_create(user=operator, name="ops dashboard")
    basic = base64.b64encode(f"mo:{PASSWORD}".encode()).decode()
    # When another site makes the operator's browser replay Basic credentials to "batch now"
    replayed = Client().post(reverse("api-jobs"), HTTP_AUTHORIZATION=f"Basic {basic}")
    # Then they do not authenticate (as on the review API), while the integration's token does
    assert replayed.status_code == 401
    assert not replayed.get("WWW-Authenticate", "").startswith("Basic")
    listed = APIClient().get(reverse("api-jobs"), HTTP_AUTHORIZATION=f"Token {key}")
    assert listed.status_code == 200, listed.content


def test_the_generation_api_refuses_deep_json_and_names_bad_fields(make_user):
    _, raw = api_token_issue(name="integration", user=make_user("admin"))
    client = APIClient(raise_request_exception=False)
    deep = b'{"prompt": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"
    refused = client.post(
        reverse("api-generate"), deep, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert refused.status_code == 400 and "nested too deeply" in refused.json()["error"]
    invalid = client.post(
        reverse("api-generate"), {"prompt": "x", "temperature": -1}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )  # fmt: skip
    assert invalid.status_code == 400
    assert invalid.json()["error"] and "temperature" in invalid.json()["fields"]
