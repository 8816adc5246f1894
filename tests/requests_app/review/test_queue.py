"""The queue: open requests by due date, days left and overdue marked, filters, pages, constant queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from requests_app.models import ForgetRequest, RequestKind, Status
from requests_app.review.selectors import REVIEW_STATUSES, review_queue
from requests_app.review.services import forget_request_approve
from tests.requests_app.factories import in_review, screened


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr.*?</tr>", body, flags=re.S)


@pytest.mark.django_db
def test_open_requests_come_soonest_deadline_first_with_days_left(officer_client, officer):
    later = in_review(days_left=20.5, requester_name="Cleo Later")
    overdue = in_review(days_left=-3.5, requester_name="Bea Overdue")
    soon = in_review(days_left=2.5, requester_name="Dan Soon", status=Status.NEEDS_INFO)
    screened(later, risk="low")
    in_review(requester_name="Eve Approved", status=Status.APPROVED)  # not open for review
    response = officer_client.get(reverse("review:queue"))
    rows = _rows(response.content.decode())
    assert [re.search(r"(Bea Overdue|Dan Soon|Cleo Later)", r).group(1) for r in rows] == [
        "Bea Overdue",
        "Dan Soon",
        "Cleo Later",
    ]
    assert "row-overdue" in rows[0] and "3 days overdue" in rows[0]
    assert "2 days left" in rows[1] and "Needs more information" in rows[1]
    assert "20 days left" in rows[2] and "Low" in rows[2]
    assert "Not screened" in rows[0]
    # Only a low-risk request in review can be ticked for a bulk decision
    assert [bool(re.search(r'name="request_ids"', r)) for r in rows] == [False, False, True]
    assert overdue.pk and soon.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"risk": "high"}, {"high"}),
        ({"risk": "unknown"}, {"unscreened"}),
        ({"status": "needs_info"}, {"waiting", "unscreened"}),
        ({"overdue": "on"}, {"late"}),
        ({"kind": RequestKind.CONCEPT}, {"topic"}),
    ],
)
def test_filters(query, expected, officer_client):
    screened(in_review(requester_name="high", days_left=9), risk="high")
    in_review(requester_name="unscreened", days_left=8, status=Status.NEEDS_INFO)
    screened(in_review(requester_name="waiting", status=Status.NEEDS_INFO, days_left=7), risk="low")
    screened(in_review(requester_name="late", days_left=-1), risk="low")
    screened(in_review(requester_name="topic", kind=RequestKind.CONCEPT, days_left=6), risk="medium")
    html = officer_client.get(reverse("review:queue"), query).content.decode()
    names = {m for m in ("high", "unscreened", "waiting", "late", "topic") if f">{m}</a>" in html}
    assert names == expected


@pytest.mark.django_db
def test_pages_of_25(officer_client):
    for days in range(30):
        in_review(days_left=days + 1, texts=("x y z",))
    first = officer_client.get(reverse("review:queue")).content.decode()
    second = officer_client.get(reverse("review:queue"), {"page": 2}).content.decode()
    assert len(_rows(first)) == 25 and len(_rows(second)) == 5
    assert "Page 2 of 2" in second


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_the_queue_runs_the_same_number_of_queries_for_3_or_25_rows(
    officer_client, officer, second_officer, django_assert_max_num_queries
):
    def fill(n):
        for i in range(n):
            req = in_review(days_left=i + 1)
            screened(req, risk=("low", "high")[i % 2])
            if i % 2:
                forget_request_approve(request_id=req.pk, officer=second_officer)  # one vote of two

    fill(3)
    page_small = _count_queries(officer_client, reverse("review:queue"))
    api_small = _count_queries(officer_client, reverse("api-review-queue"))
    fill(22)
    page_large = _count_queries(officer_client, reverse("review:queue"))
    api_large = _count_queries(officer_client, reverse("api-review-queue"))
    assert page_small == page_large and api_small == api_large
    print(f"queue page: {page_small} queries, API: {api_small} queries, for 3 and for 25 rows")
    with django_assert_max_num_queries(page_small):
        officer_client.get(reverse("review:queue"))


@pytest.mark.django_db
def test_the_api_queue_lists_the_same_rows(officer_client):
    screened(in_review(days_left=-1), risk="high")
    in_review(days_left=4)
    body = officer_client.get(reverse("api-review-queue")).json()
    assert body["count"] == 2
    first, second = body["results"]
    assert (first["overdue"], first["risk"], first["item_count"]) == (True, "high", 3)
    assert (second["overdue"], second["risk"], second["days_left"]) == (False, "unknown", 3)
    only_high = officer_client.get(reverse("api-review-queue"), {"risk": "high"}).json()
    assert [r["id"] for r in only_high["results"]] == [first["id"]]


def test_the_queue_index_covers_exactly_the_statuses_and_order_the_queue_reads():
    # Given the partial index that keeps the queue fast with years of closed requests (figures:
    # docs/benchmarks/portal.md), and the queue's own filter and order
    index = next(i for i in ForgetRequest._meta.indexes if i.name == "forgetrequest_review_queue")
    queue = review_queue().query
    # Then it covers the statuses the queue shows, no more and no fewer
    assert set(dict(index.condition.children)["status__in"]) == set(REVIEW_STATUSES)
    # And its columns are the queue's order, so PostgreSQL reads the first page straight off it
    ordered = [getattr(e, "expression", e) for e in index.expressions]
    assert [getattr(e, "name", e) for e in ordered] == ["due_at", "received_at", "id"]
    assert [o if isinstance(o, str) else o.expression.name for o in queue.order_by] == [
        "due_at", "received_at", "pk",
    ]  # fmt: skip
