"""JSON nested far deeper than any real body: a clear 400 from every JSON endpoint, never a 500."""

import pytest
from rest_framework.test import APIClient

from tests.requests_app.factories import make_request

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
DEPTH = 300_000


def deep(depth: int = DEPTH) -> bytes:
    return b'{"kind": "corpus", "examples": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/forget-requests/",
        "/api/v1/forget-requests/{id}/verify",
        "/api/v1/forget-requests/{id}/cancel",
    ],
)
def test_deeply_nested_json_is_refused_with_a_400_naming_the_problem(path):
    # Given a hostile client that nests arrays a few hundred thousand deep
    req = make_request()
    client = APIClient(raise_request_exception=False)
    # When it posts them
    response = client.post(path.format(id=req.public_id), deep(), content_type="application/json")
    # Then the answer is a 400 that says what is wrong, and nothing was stored
    assert response.status_code == 400, response.content[:300]
    assert "nested too deeply" in response.json()["error"]


def test_the_review_api_refuses_deep_json_too(officer):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(officer)
    req = make_request()
    response = client.post(
        f"/api/v1/forget-requests/{req.public_id}/decision", deep(), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "nested too deeply" in response.json()["error"]


def test_reasonable_nesting_still_reaches_validation():
    # Nesting a little (a list inside the examples list) is malformed input, answered field by field
    client = APIClient()
    response = client.post(
        "/api/v1/forget-requests/", b'{"examples": [[["x"]]]}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "examples" in response.json()["fields"]
