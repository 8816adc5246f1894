"""The decision API and the review page: same services, readable errors, everything an officer needs shown."""

import re
import uuid

import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.urls import reverse

from requests_app.models import ForgetRequest, RequestMessage, Status
from requests_app.review import services as review_services
from tests.requests_app.factories import in_review, screened


def _decide(client, req_or_id, **body):
    public_id = getattr(req_or_id, "public_id", req_or_id)
    url = reverse("api-forget-request-decision", kwargs={"id": public_id})
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db
def test_api_approve_high_risk_twice_then_conflict(client, officer, second_officer):
    req = in_review()
    screened(req, risk="high")
    client.force_login(officer)
    first = _decide(client, req, decision="approve").json()
    assert first == {**first, "status": "in_review", "approved": False, "approvals": 1, "approvals_needed": 2}
    again = _decide(client, req, decision="approve")
    assert again.status_code == 400 and "different officer" in again.json()["error"]
    client.force_login(second_officer)
    assert _decide(client, req, decision="approve").json()["status"] == "approved"
    late = _decide(client, req, decision="reject", reason="Too late")
    assert late.status_code == 400 and "someone else has already acted" in late.json()["error"]


@pytest.mark.django_db
def test_api_reject_needs_info_and_extend(client, officer, django_capture_on_commit_callbacks):
    client.force_login(officer)
    missing = _decide(client, in_review(), decision="reject")
    assert missing.status_code == 400 and missing.json()["field"] == "reason"
    assert _decide(client, uuid.uuid4(), decision="approve").status_code == 404
    bad = _decide(client, in_review(), decision="delete")
    assert bad.status_code == 400 and bad.json()["field"] == "decision"

    rejected, asked, extended = in_review(), in_review(), in_review()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            _decide(
                client, rejected, decision="reject", reason="Legal claims", exception="legal_claims"
            ).json()["status"]
            == "rejected"
        )
        assert (
            _decide(client, asked, decision="needs_info", question="Which town?").json()["status"]
            == "needs_info"
        )
        new_due = extended.original_due_at + relativedelta(months=1)
        body = _decide(
            client, extended, decision="extend", new_due_at=new_due.isoformat(), reason="Archive check"
        )
        assert body.status_code == 200, body.content
    assert RequestMessage.objects.get(request=asked).body == "Which town?"
    assert ForgetRequest.objects.get(pk=extended.pk).due_at == new_due
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_review_page_shows_screening_items_identity_and_history(client, officer):
    req = in_review()
    items = list(req.items.order_by("position"))
    screened(
        req,
        risk="high",
        reasons=["1 item of 3 does not mention the requester."],
        coreset=[items[0].pk],
        excluded=[items[2].pk],
    )
    client.force_login(officer)
    html = client.get(reverse("review:detail", kwargs={"public_id": req.public_id})).content.decode()
    assert "1 item of 3 does not mention the requester." in html
    assert "Does not mention the requester." in html  # the item's own reason
    assert "4 Quay Road" in html and "0123 4567" in html
    assert "E-mail confirmed" in html
    assert "two different officers must approve" in html
    assert html.count('value="include" checked') == 1 and html.count('value="drop" checked') == 1
    assert "Legal claims — Art. 17(3)(e)" in html


@pytest.mark.django_db
def test_item_choice_and_approval_through_the_page(client, officer):
    req = in_review()
    screened(req, risk="low")
    item = req.items.get(position=1)
    client.force_login(officer)
    url = reverse("review:item", kwargs={"public_id": req.public_id, "item_id": item.pk})
    page = client.post(url, {"choice": "exclude", "note": "Outlier in style"}, follow=True).content.decode()
    assert "Outlier in style" in page and "Excluded from training" in page
    page = client.post(
        reverse("review:approve", kwargs={"public_id": req.public_id}), follow=True
    ).content.decode()
    assert "Approved." in page
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.APPROVED
    assert "review.approve" in page and "review.item" in page  # the history


@pytest.mark.django_db
def test_a_rejection_without_a_reason_shows_the_form_again(client, officer):
    req = in_review()
    client.force_login(officer)
    response = client.post(reverse("review:reject", kwargs={"public_id": req.public_id}), {"reason": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW


@pytest.mark.django_db
def test_extension_through_the_page_is_capped(client, officer):
    req = in_review()
    client.force_login(officer)
    url = reverse("review:extend", kwargs={"public_id": req.public_id})
    too_far = (req.original_due_at + relativedelta(months=2, days=2)).date().isoformat()
    page = client.post(url, {"new_due_date": too_far, "reason": "Complex"}, follow=True).content.decode()
    assert "at most two further months" in page
    ok = (req.original_due_at + relativedelta(months=2)).date().isoformat()
    page = client.post(url, {"new_due_date": ok, "reason": "Complex"}, follow=True).content.decode()
    assert "The deadline is now" in page
    assert ForgetRequest.objects.get(pk=req.pk).due_at.date().isoformat() == ok


@pytest.mark.django_db
def test_an_approval_from_a_stale_page_is_refused(client, officer, second_officer):
    # Given officer A has the page open (it carries the request's version)
    req = in_review()
    screened(req, risk="low")
    client.force_login(officer)
    html = client.get(reverse("review:detail", kwargs={"public_id": req.public_id})).content.decode()
    seen = re.search(r'name="version" value="(\d+)"', html).group(1)
    # When officer B drops an item meanwhile, and A then approves from the old page
    item = req.items.get(position=2)
    review_services.forget_item_decide(
        item_id=item.pk, officer=second_officer, choice="drop", note="Not hers"
    )
    page = client.post(
        reverse("review:approve", kwargs={"public_id": req.public_id}), {"version": seen}, follow=True
    ).content.decode()
    # Then A is told to look again and nothing is approved
    assert "changed since you opened it" in page
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW
    # The API's queue gives the current version, with which the approval goes through
    version = client.get(reverse("api-review-queue")).json()["results"][0]["version"]
    assert _decide(client, req, decision="approve", version=version).json()["status"] == "approved"


@pytest.mark.django_db
def test_pages_of_a_request_waiting_for_an_answer_and_of_a_rejected_one(client, officer):
    client.force_login(officer)
    waiting = in_review()
    review_services.forget_request_needs_info(
        request_id=waiting.pk, officer=officer, question="Which of the towns?"
    )
    html = client.get(reverse("review:detail", kwargs={"public_id": waiting.public_id})).content.decode()
    assert "Which of the towns?" in html and "Extend the deadline" in html
    assert "Reject and e-mail the reason" not in html and "nothing to decide now" in html
    rejected = in_review()
    review_services.forget_request_reject(
        request_id=rejected.pk, officer=officer, reason="Legal claims pending"
    )
    html = client.get(reverse("review:detail", kwargs={"public_id": rejected.public_id})).content.decode()
    assert "Text erased" in html and "4 Quay Road" not in html
    assert "Extend the deadline" not in html
