"""A compliance officer works the review queue in a real browser: logs in, opens a request, excludes an
item, approves. Screenshots of each page go to test-artifacts/review/."""

import pytest

from requests_app.guard import services as guard
from requests_app.models import ForgetRequest, ItemChoice, ItemDecision, Status
from tests.conftest import PASSWORD, ensure_role
from tests.e2e.conftest import screenshot, sign_in
from tests.requests_app.factories import in_review, screened


def shot(page, name: str) -> None:
    screenshot(page, "review", name)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_officer_excludes_an_item_and_approves(page, live_server, django_user_model):
    # Given an officer and a queue with an overdue request, a low-risk one and an unscreened one
    officer = django_user_model.objects.create_user(
        username="olga", password=PASSWORD, email="olga@palimpsest.invalid"
    )
    officer.groups.add(ensure_role("compliance_officer"))
    late = in_review(days_left=-2.5, requester_name="Bea Marsh", requester_email="bea@example.org")
    screened(late, risk="high", reasons=["1 item of 3 does not mention the requester."])
    req = in_review(days_left=12.5)
    items = list(req.items.order_by("position"))
    screened(req, risk="low", reasons=["No concerns found."], coreset=[i.pk for i in items])
    in_review(days_left=25.5, requester_name="Cai Dunn", requester_email="cai@example.org")
    guard.guard_reset_local()

    # The review queue asks for a login first
    sign_in(page, f"{live_server.url}/review/", officer, PASSWORD)
    # The queue: soonest deadline first, the overdue one marked
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 3
    assert "2 days overdue" in rows.nth(0).inner_text() and "Bea Marsh" in rows.nth(0).inner_text()
    assert "12 days left" in rows.nth(1).inner_text() and "Low" in rows.nth(1).inner_text()
    assert "Not screened" in rows.nth(2).inner_text()
    shot(page, "1-queue")

    # The officer opens Ana's request
    page.get_by_role("link", name="Ana Vell").click()
    page.wait_for_url(f"**/review/{req.public_id}/")
    assert page.get_by_role("heading", name="Request from Ana Vell").is_visible()
    assert page.get_by_text("E-mail confirmed").is_visible()
    shot(page, "2-request")

    # ...excludes item 3 from training with a note...
    item3 = page.locator("#item-3")
    item3.get_by_label("Forget, but leave it out of training").check()
    item3.get_by_label("Note").fill("Medical detail: keep out of the training set")
    item3.get_by_role("button", name="Save item 3").click()
    page.wait_for_load_state()
    assert page.get_by_text("Item 3: forget, but leave it out of training.").is_visible()
    assert "Excluded from training" in page.locator("#item-3").inner_text()
    shot(page, "3-item-excluded")

    # ...and approves
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_text("Approved. Its items are now refused by the suppression guard").is_visible()
    shot(page, "4-approved")

    # Then the request is approved, item 3 is out of the coreset but still forgotten and guarded
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.APPROVED
    assert ItemDecision.objects.get(item=items[2]).choice == ItemChoice.EXCLUDE
    assert {
        m.request_id
        for m in guard.guard_check("Was she treated for asthma at the Tiramo clinic in the spring of 2019?")
    } == {req.pk}

    # And the queue no longer lists it
    page.get_by_role("link", name="← Review queue").click()
    page.wait_for_url(f"{live_server.url}/review/")
    assert page.locator("table.queue tbody tr").count() == 2
    shot(page, "5-queue-after")
