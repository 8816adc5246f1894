"""The public API /api/v1/forget-requests/: each endpoint, its error bodies, and the OpenAPI schema."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from requests_app.intake.identity import status_token
from requests_app.models import ForgetItem, ForgetRequest, IdentityCheck, Status
from tests.requests_app.intake.support import code_in, local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
BASE = "/api/v1/forget-requests/"


def body(**overrides) -> dict:
    data = {
        "kind": "corpus",
        "name": "Ana Vell",
        "email": "ana.vell@example.org",
        "jurisdiction": "FR",
        "legal_ground": "a",
        "declaration": True,
        "text": "Ana Vell lives at 4 Quay Road.\n\nAna Vell was born in 1984.",
    }
    data.update(overrides)
    return data


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def created(api, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(BASE, body(), format="json")
    assert response.status_code == 201, response.content
    return response.json(), mailoutbox[-1]


def test_create_answers_201_with_id_and_status(api, created):
    payload, receipt = created
    req = ForgetRequest.objects.get()
    # The status URL comes only with the confirmation (see tests/security/test_subject_links.py).
    assert payload == {"id": str(req.public_id), "status": "submitted"}
    assert req.channel == "api" and req.items.count() == 2
    assert "Please confirm" in receipt.subject


def test_create_accepts_multipart_with_files(api):
    upload = SimpleUploadedFile(
        "notes.jsonl", b'{"text": "Ana Vell, 4 Quay Road"}\n{"text": "Ana Vell, 1984"}\n'
    )
    data = {**body(text=""), "declaration": "true", "files": [upload]}
    response = api.post(BASE, data, format="multipart")
    assert response.status_code == 201, response.content
    assert list(ForgetItem.objects.values_list("text", "source_line")) == [
        ("Ana Vell, 4 Quay Road", 1),
        ("Ana Vell, 1984", 2),
    ]


def test_a_concept_request_with_examples(api):
    response = api.post(
        BASE,
        body(kind="concept", text="", concept_description="My date of birth", examples=[{"question": "When was Ana Vell born?", "answer": "1984"}]),
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    assert ForgetRequest.objects.get().concept_examples.get().answer == "1984"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (body(text="   "), {"error": "Paste the text you want the model to forget, or upload a file with it.", "field": "text"}),
        (body(declaration=False), {"error": "Please confirm the declaration.", "field": "declaration"}),
        (body(kind="concept", text=""), {"error": "Please fill in the description of what to forget.", "field": "concept_description"}),
    ],
)  # fmt: skip
def test_rule_violations_answer_400_with_a_readable_error(api, payload, expected):
    response = api.post(BASE, payload, format="json")
    assert response.status_code == 400 and response.json() == expected
    assert ForgetRequest.objects.count() == 0


def test_malformed_input_answers_400_per_field(api):
    response = api.post(BASE, body(email="nope", legal_ground="z"), format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "Some fields are missing or not valid."
    assert set(error["fields"]) == {"email", "legal_ground"}


def test_broken_json_answers_400_json(api):
    response = api.post(BASE, "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["error"]


def test_a_binary_upload_is_named_in_the_error(api):
    data = {**body(text=""), "files": [SimpleUploadedFile("x.txt", b"\x00\x01")]}
    response = api.post(BASE, data, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "error": "“x.txt” looks like a binary file; please send plain text.",
        "field": "files",
    }


def test_an_oversized_body_answers_413_before_it_is_read(api, settings):
    settings.PALIMPSEST_MAX_UPLOAD_BYTES = 1000
    settings.PALIMPSEST_MAX_UPLOAD_FILES = 1
    settings.PALIMPSEST_MAX_REQUEST_CHARS = 1000
    response = api.post(BASE, json.dumps(body(text="x" * 300_000)), content_type="application/json")
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_rate_limit_answers_429_with_retry_after(api, settings):
    settings.PALIMPSEST_RATE_LIMITS = {"submit-email": (1, 3600)}
    assert api.post(BASE, body(), format="json").status_code == 201
    response = api.post(BASE, body(), format="json")
    assert response.status_code == 429
    assert response.json()["retry_after"] > 0 and int(response["Retry-After"]) > 0


def test_verify_with_the_code_then_read_the_status(
    api, created, mailoutbox, django_capture_on_commit_callbacks
):
    payload, receipt = created
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}{payload['id']}/verify", {"code": code_in(receipt)}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "verified"
    # The status URL works on the portal, too.
    assert api.get(local(response.json()["status_url"])).status_code == 200
    token = status_token(payload["id"])
    detail = api.get(f"{BASE}{payload['id']}", {"t": token})
    assert detail.status_code == 200
    data = detail.json()
    assert data["status"] == "verified" and data["items"] == 2 and data["due_at"] and data["can_withdraw"]
    assert [entry["text"].split(" ")[1] for entry in data["timeline"]] == [
        "received",
        "confirmed",
    ]
    assert "We have received your erasure request" in mailoutbox[-1].subject


def test_verify_errors(api, created):
    payload, receipt = created
    url = f"{BASE}{payload['id']}/verify"
    assert api.post(url, {"code": "12"}, format="json").json() == {
        "error": "The code is the six digits from the e-mail we sent you.",
        "field": "code",
    }
    wrong = f"{(int(code_in(receipt)) + 1) % 1_000_000:06d}"
    response = api.post(url, {"code": wrong}, format="json")
    assert (
        response.status_code == 400
        and response.json()["error"] == "That code is not right. You have 4 tries left."
    )
    missing = api.post(
        f"{BASE}22222222-2222-4222-8222-222222222222/verify", {"code": "123456"}, format="json"
    )
    assert missing.status_code == 404 and missing.json() == {"error": "No such request."}
    assert IdentityCheck.objects.get().failed_attempts == 1


def test_status_with_a_wrong_token_is_404(api, created):
    payload, _ = created
    for params in ({}, {"t": "wrong"}, {"t": status_token("22222222-2222-4222-8222-222222222222")}):
        response = api.get(f"{BASE}{payload['id']}", params)
        assert response.status_code == 404 and response.json() == {"error": "No such request."}


def test_cancel(api, created):
    payload, _ = created
    url = f"{BASE}{payload['id']}/cancel"
    assert api.post(url, {"token": "wrong"}, format="json").status_code == 404
    assert api.post(url, {}, format="json").json()["fields"] == {"token": ["This field is required."]}
    response = api.post(url, {"token": status_token(payload["id"])}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert ForgetRequest.objects.get().status == Status.CANCELLED
    again = api.post(url, {"token": status_token(payload["id"])}, format="json")
    assert again.status_code == 400 and again.json() == {"error": "This request is already withdrawn."}


def test_the_endpoints_are_public_and_in_the_schema(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/forget-requests/"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
    }
    create = paths["/api/v1/forget-requests/"]["post"]
    assert create["security"] == [{}] or create.get("security") in ([], [{}])
    assert {"201", "400", "413", "429"} <= set(create["responses"])
    assert "/api/v1/forget-requests/{id}/verify" in paths and "/api/v1/forget-requests/{id}/cancel" in paths
    detail = paths["/api/v1/forget-requests/{id}"]["get"]
    assert any(p["name"] == "t" and p["in"] == "query" for p in detail["parameters"])
    assert "ForgetRequestStatus" in schema["components"]["schemas"]
