"""Decisions through the services: four-eyes, rejections with a reason e-mailed, questions, extensions, bulk."""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.urls import reverse

from palimpsest.errors import ApplicationError
from requests_app.models import (
    AuditEvent,
    ForgetItem,
    ForgetRequest,
    ItemChoice,
    ItemSource,
    MessageAuthor,
    RequestMessage,
    ReviewDecision,
    Status,
)
from requests_app.review import services as review_services
from requests_app.review.models import ApprovedItem
from requests_app.review.selectors import forget_set
from tests.requests_app.factories import in_review, screened


def _review_audit(req) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_id=str(req.pk), action__startswith="review.").order_by("seq")
    )


@pytest.mark.django_db
def test_high_risk_needs_two_different_officers(officer, second_officer):
    req = in_review()
    screened(req, risk="high", reasons=["2 items of 3 may not be about the requester."])
    # When one officer approves, the request stays in review with one approval
    first = review_services.forget_request_approve(request_id=req.pk, officer=officer)
    assert (first.approved, first.votes, first.votes_needed) == (False, 1, 2)
    req.refresh_from_db()
    assert req.status == Status.IN_REVIEW
    # The same officer approving twice is refused
    with pytest.raises(ApplicationError, match="second, different officer"):
        review_services.forget_request_approve(request_id=req.pk, officer=officer)
    # A second officer completes it
    second = review_services.forget_request_approve(request_id=req.pk, officer=second_officer)
    assert second.approved
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    approve = AuditEvent.objects.get(action="review.approve", object_id=str(req.pk))
    assert approve.data["officer_ids"] == sorted([officer.pk, second_officer.pk])
    assert approve.data["risk"] == "high" and approve.data["items_forgotten"] == 3


@pytest.mark.django_db
def test_low_risk_needs_one_officer_and_a_missing_report_needs_two(officer):
    low = in_review()
    screened(low, risk="low")
    assert review_services.forget_request_approve(request_id=low.pk, officer=officer).approved
    unscreened = in_review()
    outcome = review_services.forget_request_approve(request_id=unscreened.pk, officer=officer)
    assert not outcome.approved and outcome.votes_needed == 2


@pytest.mark.django_db
def test_editing_an_item_withdraws_earlier_approvals(officer, second_officer):
    req = in_review()
    screened(req, risk="high")
    review_services.forget_request_approve(request_id=req.pk, officer=officer)
    item = req.items.get(position=0)
    review_services.forget_item_decide(
        item_id=item.pk, officer=second_officer, choice=ItemChoice.EXCLUDE, note="outlier"
    )
    # The second officer's approval is now the first of a new round
    outcome = review_services.forget_request_approve(request_id=req.pk, officer=second_officer)
    assert (outcome.approved, outcome.votes) == (False, 1)
    assert review_services.forget_request_approve(request_id=req.pk, officer=officer).approved
    fs = forget_set(request_id=req.pk)
    assert item.pk in fs.item_ids and item.pk not in fs.coreset_ids


@pytest.mark.django_db
def test_screening_exclusions_are_dropped_unless_the_officer_keeps_them(officer):
    req = in_review()
    items = list(req.items.order_by("position"))
    screened(req, risk="medium", excluded=[items[2].pk], coreset=[items[0].pk])
    fs = forget_set(request_id=req.pk)
    assert (fs.item_ids, fs.coreset_ids, fs.dropped_ids) == (
        [items[0].pk, items[1].pk],
        [items[0].pk],
        [items[2].pk],
    )
    review_services.forget_item_decide(
        item_id=items[2].pk, officer=officer, choice=ItemChoice.INCLUDE, note="It is hers"
    )
    assert items[2].pk in forget_set(request_id=req.pk).coreset_ids
    with pytest.raises(ApplicationError, match="why"):
        review_services.forget_item_decide(
            item_id=items[0].pk, officer=officer, choice=ItemChoice.DROP, note=" "
        )


@pytest.mark.django_db
def test_a_rejection_emails_the_reason_and_keeps_only_its_hash_in_the_audit(
    officer, django_capture_on_commit_callbacks
):
    req = in_review()
    reason = "The article about you is journalism of public interest (Art. 17(3)(a)); see our policy 7."
    with pytest.raises(ApplicationError, match="reason"):
        review_services.forget_request_reject(request_id=req.pk, officer=officer, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        review_services.forget_request_reject(
            request_id=req.pk, officer=officer, reason=reason, exception="expression"
        )
    # The requester got an e-mail holding the reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [req.requester_email]
    assert reason in mail.outbox[0].body
    req.refresh_from_db()
    assert req.status == Status.REJECTED and req.closed_at is not None
    # The audit holds the reason's hash, never the text; the closed request's texts are erased
    events = _review_audit(req)
    assert [e.action for e in events] == ["review.reject"]
    assert "journalism" not in str(list(AuditEvent.objects.values_list("data", flat=True)))
    assert len(events[0].data["reason_sha256"]) == 64 and events[0].data["exception"] == "expression"
    assert set(ForgetItem.objects.filter(request=req).values_list("text", flat=True)) == {""}
    assert ReviewDecision.objects.get(request=req).reason == reason


@pytest.mark.django_db
def test_needs_info_stores_the_question_and_emails_it(officer, django_capture_on_commit_callbacks):
    req = in_review()
    question = "Which of the two addresses in item 2 is yours?"
    with django_capture_on_commit_callbacks(execute=True):
        review_services.forget_request_needs_info(request_id=req.pk, officer=officer, question=question)
    req.refresh_from_db()
    assert req.status == Status.NEEDS_INFO
    message = RequestMessage.objects.get(request=req)
    assert (message.author, message.author_user_id, message.body) == (
        MessageAuthor.OFFICER,
        officer.pk,
        question,
    )
    assert len(mail.outbox) == 1 and question in mail.outbox[0].body
    assert "addresses" not in str(
        AuditEvent.objects.filter(object_id=str(req.pk)).values_list("data", flat=True)
    )


@pytest.mark.django_db
def test_extension_is_limited_reasoned_and_told(officer, django_capture_on_commit_callbacks):
    req = in_review()
    limit = req.original_due_at + relativedelta(months=2)
    with pytest.raises(ApplicationError, match="two further months"):
        review_services.forget_request_extend_deadline(
            request_id=req.pk, officer=officer, new_due_at=limit + timedelta(days=1), reason="Many items"
        )
    with django_capture_on_commit_callbacks(execute=True):
        review_services.forget_request_extend_deadline(
            request_id=req.pk,
            officer=officer,
            new_due_at=limit,
            reason="Many items to check with the archive",
        )
    req.refresh_from_db()
    assert req.due_at == limit and req.status == Status.IN_REVIEW
    assert len(mail.outbox) == 1 and "Many items to check with the archive" in mail.outbox[0].body


@pytest.mark.django_db
def test_bulk_decides_low_risk_requests_only(officer, client):
    low = [in_review(days_left=d) for d in (3, 4)]
    for req in low:
        screened(req, risk="low")
    high = in_review(days_left=5)
    screened(high, risk="high")
    client.force_login(officer)
    response = client.post(
        reverse("review:bulk"),
        {"request_ids": [low[0].pk, low[1].pk, high.pk], "decision": "approve"},
        follow=True,
    )
    text = response.content.decode()
    assert "2 requests approved" in text and "Only low-risk requests can be decided in bulk" in text
    statuses = dict(ForgetRequest.objects.values_list("pk", "status"))
    assert statuses == {low[0].pk: Status.APPROVED, low[1].pk: Status.APPROVED, high.pk: Status.IN_REVIEW}


@pytest.mark.django_db
def test_concept_proposals_must_be_accepted_or_dropped_before_approval(officer):
    from requests_app.models import ItemScreening

    req = in_review(kind="concept", texts=("Ana Vell plays the oboe in the Tiramo town band.",))
    screened(req, risk="low")
    proposed = ForgetItem.objects.create(
        request=req,
        position=1,
        text="Ana Vell works at Quill and Co.",
        sha256="1" * 64,
        source=ItemSource.EXPANDED,
    )
    ItemScreening.objects.create(
        report=req.screening_report, item=proposed, verdict="keep", in_coreset=True, proposal="proposed"
    )
    with pytest.raises(ApplicationError, match="proposed from the topic first"):
        review_services.forget_request_approve(request_id=req.pk, officer=officer)
    assert (
        review_services.forget_item_proposal_decide(item_id=proposed.pk, officer=officer, accept=False)
        == "rejected"
    )
    assert review_services.forget_request_approve(request_id=req.pk, officer=officer).approved
    fs = forget_set(request_id=req.pk)
    assert proposed.pk in fs.dropped_ids and proposed.pk not in fs.item_ids


@pytest.mark.django_db
def test_approval_stores_the_forget_set_the_unlearning_side_reads(officer):
    # Given a low-risk request whose officer keeps item 1 out of training and drops item 2
    req = in_review()
    screened(req, risk="low")
    items = list(req.items.order_by("position"))
    review_services.forget_item_decide(item_id=items[1].pk, officer=officer, choice=ItemChoice.EXCLUDE)
    review_services.forget_item_decide(
        item_id=items[2].pk, officer=officer, choice=ItemChoice.DROP, note="Someone else's clinic visit."
    )
    assert not ApprovedItem.objects.filter(request=req).exists()  # nothing stored before approval
    # When the officer approves
    assert review_services.forget_request_approve(request_id=req.pk, officer=officer).approved
    # Then one row per forgotten item holds its hash and whether unlearning trains on it; the dropped one
    # is not there, and the audit event's hash covers exactly these rows
    rows = {row.item_id: row for row in ApprovedItem.objects.filter(request=req)}
    assert set(rows) == {items[0].pk, items[1].pk}
    assert rows[items[0].pk].in_coreset and not rows[items[1].pk].in_coreset
    assert all(rows[i.pk].sha256 == i.sha256 for i in items[:2])
    approve = AuditEvent.objects.get(action="review.approve", object_id=str(req.pk))
    assert approve.data["from"] == Status.IN_REVIEW and approve.data["to"] == Status.APPROVED
    assert approve.data["coreset"] == 1 and approve.data["items_forgotten"] == 2
