"""Who may see and decide: anonymous visitors and the data subject are sent to log in (pages) or get 401
(API); staff without the decide permission get 403; officers get through."""

import pytest
from django.urls import reverse

from requests_app.intake.identity import status_token
from requests_app.models import AuditEvent, ForgetRequest, Status
from tests.requests_app.factories import in_review

ROLES = ["anonymous", "subject", "release_manager", "ml_operator", "officer"]


def _pages(req, item):
    kw = {"public_id": req.public_id}
    return [
        ("get", reverse("review:queue"), {}),
        ("get", reverse("review:detail", kwargs=kw), {}),
        ("post", reverse("review:approve", kwargs=kw), {}),
        (
            "post",
            reverse("review:reject", kwargs=kw),
            {"reason": "Legal claims pending.", "exception": "legal_claims"},
        ),
        ("post", reverse("review:needs_info", kwargs=kw), {"question": "Which account is yours?"}),
        ("post", reverse("review:extend", kwargs=kw), {"new_due_date": "2099-01-01", "reason": "Complex."}),
        (
            "post",
            reverse("review:item", kwargs={**kw, "item_id": item.pk}),
            {"choice": "exclude", "note": "x"},
        ),
        ("post", reverse("review:proposal", kwargs={**kw, "item_id": item.pk}), {"accept": "1"}),
        ("post", reverse("review:bulk"), {"request_ids": [req.pk], "decision": "approve"}),
    ]


def _client_for(role, client, make_user, req):
    if role == "subject":
        # The requester holds a valid status-page token; it opens the status page, nothing else.
        client.get(
            reverse("requests_app:status", kwargs={"public_id": req.public_id}),
            {"t": status_token(req.public_id)},
        )
    elif role != "anonymous":
        group = {"officer": "compliance_officer"}.get(role, role)
        client.force_login(make_user(f"user-{role}", group))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "index",
    range(9),
    ids=["queue", "detail", "approve", "reject", "ask", "extend", "item", "proposal", "bulk"],
)
def test_review_pages(role, index, client, make_user):
    req = in_review()
    method, url, data = _pages(req, req.items.first())[index]
    client = _client_for(role, client, make_user, req)
    before = AuditEvent.objects.filter(action__startswith="review.").count()
    response = getattr(client, method)(url, data)
    if role in ("anonymous", "subject"):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    elif role in ("release_manager", "ml_operator"):
        assert response.status_code == 403
    else:
        assert response.status_code == (200 if method == "get" else 302)
    if role != "officer":
        # Nothing changed for anyone who may not decide
        assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW
        assert AuditEvent.objects.filter(action__startswith="review.").count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("get", "api-review-queue", None),
        ("post", "api-forget-request-decision", {"decision": "approve"}),
        ("post", "api-forget-request-decision", {"decision": "reject", "reason": "Legal claims pending."}),
    ],
    ids=["queue", "approve", "reject"],
)
def test_review_api(role, method, name, body, client, make_user):
    req = in_review()
    client = _client_for(role, client, make_user, req)
    url = reverse(name) if name == "api-review-queue" else reverse(name, kwargs={"id": req.public_id})
    response = client.get(url) if method == "get" else client.post(url, body, content_type="application/json")
    expected = {"anonymous": 401, "subject": 401, "release_manager": 403, "ml_operator": 403, "officer": 200}[
        role
    ]
    assert response.status_code == expected, response.content
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Token")
    if role != "officer":
        assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW


@pytest.mark.django_db
def test_an_officer_cannot_decide_their_own_request(client, officer):
    # Given a request sent by the officer's own e-mail address (in another case)
    req = in_review(requester_email=officer.email.upper())
    client.force_login(officer)
    page = client.get(reverse("review:detail", kwargs={"public_id": req.public_id}))
    assert "another officer must decide it" in page.content.decode()
    # When they try to approve or reject it, through the page or the API
    response = client.post(reverse("review:approve", kwargs={"public_id": req.public_id}), follow=True)
    api = client.post(
        reverse("api-forget-request-decision", kwargs={"id": req.public_id}),
        {"decision": "reject", "reason": "no"},
        content_type="application/json",
    )
    # Then they are refused and nothing changed
    assert "another officer must decide it" in response.content.decode()
    assert api.status_code == 400 and "another officer" in api.json()["error"]
    req.refresh_from_db()
    assert req.status == Status.IN_REVIEW and not req.votes.exists()
