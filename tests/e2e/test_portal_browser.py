"""A person uses the portal in a real browser: fills the form, confirms with the e-mailed code, follows and
withdraws the request. Screenshots of each page go to test-artifacts/portal/."""

import pytest
from django.core import mail

from requests_app.models import ForgetRequest, Status
from tests.e2e.conftest import screenshot
from tests.requests_app.intake.support import code_in


def shot(page, name: str) -> None:
    screenshot(page, "portal", name)


@pytest.mark.browser
@pytest.mark.usefixtures("isolated_cache")
def test_a_person_sends_confirms_follows_and_withdraws_a_request(page, live_server, settings, tmp_path):
    settings.SITE_URL = live_server.url
    # The home page explains the service and leads to the form.
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Your rights").is_visible()
    shot(page, "1-home")
    page.get_by_role("link", name="Start a request").click()

    # Sending the form empty shows the errors, each one linked to its field.
    page.get_by_role("button", name="Send my request").click()
    summary = page.locator("#error-summary")
    assert summary.is_visible() and "Enter your full name." in summary.inner_text()
    summary.get_by_role("link", name="Enter your e-mail address.").click()
    assert page.evaluate("document.activeElement.id") == "id_email"
    shot(page, "2-form-errors")

    # The person fills in the form, with pasted text and a file.
    notes = tmp_path / "notes.md"
    notes.write_text("Ana Vell was treated for asthma in 2019.\n\nAna Vell's phone is 0400 123 456.\n")
    page.get_by_label("Your full name").fill("Ana Vell")
    page.get_by_label("Your e-mail address").fill("ana.vell@example.org")
    page.get_by_label("Where do you live?").select_option("DE")
    page.get_by_label("(b) I withdraw the consent").check()
    page.get_by_label("Text I provide").check()
    page.get_by_label("Paste the text").fill("Ana Vell lives at 4 Quay Road, Portmere.")
    page.locator("#id_files").set_input_files(str(notes))
    page.get_by_label("I declare that this request").check()
    shot(page, "3-form-filled")
    page.get_by_role("button", name="Send my request").click()

    # The confirmation page asks for the code from the e-mail; the person types it using the keyboard only.
    page.wait_for_url("**/confirm/")
    shot(page, "4-confirm")
    code = code_in(mail.outbox[-1])
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_code":
            break
    else:
        pytest.fail("the code field cannot be reached with the Tab key")
    page.keyboard.type(code)
    page.keyboard.press("Enter")

    # The status page shows the story so far and the deadline.
    page.wait_for_url("**/forget/status/**")
    assert page.get_by_text("You confirmed your e-mail address").is_visible()
    assert page.get_by_text("We received your request with 3 pieces of text.").is_visible()
    assert page.get_by_text("We answer by").is_visible()
    req = ForgetRequest.objects.get()
    assert req.status == Status.VERIFIED
    shot(page, "5-status")

    # The link in the verified e-mail opens the same page; from there the person withdraws.
    status_link = next(line for line in mail.outbox[-1].body.splitlines() if "/forget/status/" in line)
    page.goto(status_link.strip())
    page.get_by_text("Withdraw this request").click()
    page.get_by_role("button", name="Withdraw my request").click()
    assert page.get_by_text("You withdrew the request.").is_visible()
    shot(page, "6-withdrawn")
    req.refresh_from_db()
    assert req.status == Status.CANCELLED
