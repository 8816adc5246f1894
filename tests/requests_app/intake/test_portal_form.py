"""The request form: happy paths (pasted text, uploaded file, concept), and every refusal stores nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from requests_app.models import AuditEvent, ConceptExample, ForgetItem, ForgetRequest, IdentityCheck, Status
from tests.requests_app.intake.support import form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]


def stored_counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (ForgetRequest, ForgetItem, IdentityCheck, ConceptExample))


def control_tag(html: str, control_id: str) -> str:
    """The opening tag of the form control with this id."""
    at = html.index(f'id="{control_id}"')
    return html[html.rindex("<", 0, at) : html.index(">", at) + 1]


def post(client, data, **files):
    return client.post("/forget/", {**data, **files})


def test_home_explains_the_service_and_links_to_the_form(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Article 17" in response.content and b"supervisory authority" in response.content
    assert b'href="/forget/"' in response.content


def test_the_form_labels_every_field(client):
    html = client.get("/forget/").content.decode()
    for field in ("id_name", "id_email", "id_jurisdiction", "id_text", "id_files", "id_concept_description"):
        assert f'for="{field}"' in html and f'id="{field}"' in html
    assert "<legend>Why should it be erased?" in html and "csrfmiddlewaretoken" in html


def test_pasted_text_is_stored_as_items_and_a_receipt_is_sent(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    # Given a filled-in form with two paragraphs
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, form_data())
    # Then the request is stored as submitted, split into hashed items, and the person is sent a code
    req = ForgetRequest.objects.get()
    assert response.status_code == 302 and response.url == f"/forget/{req.public_id}/confirm/"
    assert req.status == Status.SUBMITTED and req.declared_at is not None and req.channel == "portal"
    assert list(req.items.values_list("text", "position", "source")) == [
        ("Ana Vell lives at 4 Quay Road, Portmere.", 0, "pasted"),
        ("Ana Vell was treated for asthma in 2019.", 1, "pasted"),
    ]
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ana.vell@example.org"]
    event = AuditEvent.objects.get(action="request.submit")
    assert event.data["items"] == 2 and "Ana" not in str(event.data)


def test_an_uploaded_file_is_split_into_items(client):
    upload = SimpleUploadedFile("records.csv", b"Ana Vell,4 Quay Road\nAna Vell,asthma 2019\n", "text/csv")
    response = post(client, form_data(text=""), files=upload)
    assert response.status_code == 302
    items = ForgetItem.objects.order_by("position")
    assert [(i.text, i.source, i.source_name, i.source_line) for i in items] == [
        ("Ana Vell, 4 Quay Road", "upload", "records.csv", 1),
        ("Ana Vell, asthma 2019", "upload", "records.csv", 2),
    ]


def test_a_concept_request_keeps_its_description_and_examples(client):
    data = form_data(
        kind="concept",
        text="",
        concept_description="My home address",
        question_1="Where does Ana Vell live?",
        answer_1="At 4 Quay Road, Portmere.",
    )
    assert post(client, data).status_code == 302
    req = ForgetRequest.objects.get()
    assert req.kind == "concept" and req.concept_description == "My home address" and not req.items.exists()
    assert list(ConceptExample.objects.values_list("question", "answer")) == [
        ("Where does Ana Vell live?", "At 4 Quay Road, Portmere.")
    ]


@pytest.mark.parametrize(
    ("overrides", "files", "field", "message"),
    [
        ({"text": "  \n\n  "}, None, "text", "Paste the text you want the model to forget"),
        ({"email": "not-an-address"}, None, "email", "Enter a valid email address"),
        ({"declaration": None}, None, "declaration", "Tick the declaration to send your request."),
        ({"jurisdiction": "XX"}, None, "jurisdiction", "Select a valid choice"),
        ({"kind": "concept", "text": ""}, None, "concept_description", "Please fill in the description"),
        ({"text": ""}, ("scan.txt", b"\x89PNG\x00\x00"), "files", "“scan.txt” looks like a binary file"),
        ({"text": ""}, ("old.txt", "Ä".encode("cp1252")), "files", "“old.txt” is not readable UTF-8"),
        ({"text": ""}, ("cv.pdf", b"%PDF-1.7"), "files", "“cv.pdf” is not a file type we accept"),
        ({"text": ""}, ("empty.md", b""), "files", "“empty.md” is empty"),
    ],
)
def test_bad_input_gets_a_message_on_its_field_and_stores_nothing(client, overrides, files, field, message):
    before = stored_counts()
    upload = {"files": SimpleUploadedFile(*files)} if files else {}
    response = post(client, form_data(**overrides), **upload)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    # The error sits next to its field, and the control points at it.
    assert f'id="id_{field}_error"' in html
    assert f"id_{field}_error" in control_tag(html, f"id_{field}")
    assert stored_counts() == before


def test_errors_are_tied_to_their_controls(client):
    html = post(client, form_data(email="nope")).content.decode()
    control = control_tag(html, "id_email")
    assert 'aria-invalid="true"' in control and "id_email_helptext id_email_error" in control


def test_limits_on_items_characters_and_upload_size(client, settings):
    settings.PALIMPSEST_MAX_ITEMS = 3
    settings.PALIMPSEST_MAX_REQUEST_CHARS = 500
    settings.PALIMPSEST_MAX_UPLOAD_BYTES = 100
    before = stored_counts()
    many = "\n\n".join(f"Paragraph {n}." for n in range(4))
    assert (
        "4 items (paragraphs, rows or records); the limit is 3"
        in post(client, form_data(text=many)).content.decode()
    )
    assert "the limit is 500" in post(client, form_data(text="word " * 120)).content.decode()
    big = SimpleUploadedFile("big.txt", b"a" * 101)
    assert "“big.txt” is 101 bytes" in post(client, form_data(text=""), files=big).content.decode()
    assert stored_counts() == before


def test_a_body_over_the_limit_is_refused_without_being_read(client, settings):
    settings.PALIMPSEST_MAX_UPLOAD_BYTES = 1000
    settings.PALIMPSEST_MAX_UPLOAD_FILES = 1
    settings.PALIMPSEST_MAX_REQUEST_CHARS = 1000
    response = post(client, form_data(), files=SimpleUploadedFile("huge.txt", b"a" * 400_000))
    assert response.status_code == 413
    assert "too large" in response.content.decode() and ForgetRequest.objects.count() == 0


def test_html_is_shown_escaped(client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, form_data(name="<script>alert(1)</script> Vell", email="bad"))
    response = post(client, form_data(name="<b>Ana</b>", email="bad"))
    assert b"<b>Ana</b>" not in response.content and b"&lt;b&gt;Ana&lt;/b&gt;" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        post(client, form_data(name="<img src=x onerror=alert(1)>"))
    html_mail = mailoutbox[0].alternatives[0][0]
    assert "<img src=x" not in html_mail and "&lt;img src=x" in html_mail


def test_the_form_needs_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/forget/", form_data())
    assert response.status_code == 403 and ForgetRequest.objects.count() == 0


def test_submissions_are_rate_limited_per_address_and_per_ip(client, settings):
    settings.PALIMPSEST_RATE_LIMITS = {"submit-email": (2, 3600), "submit-ip": (4, 3600)}
    for _ in range(2):
        assert post(client, form_data()).status_code == 302
    response = post(client, form_data(email="ANA.VELL@example.org"))
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert post(client, form_data(email="someone@example.org")).status_code == 302
    assert post(client, form_data(email="another@example.org")).status_code == 429  # 5th from this IP
    assert ForgetRequest.objects.count() == 3
