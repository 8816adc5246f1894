"""The whole journey in a real browser, across the roles: two people the tiny model was trained on ask it
to forget them at the portal and confirms with the e-mailed code; screening runs; an officer approves in the
review queue; an operator presses "Batch now" and the job and the gate run; a release manager reads the
report, approves and publishes; their status pages then read "Completed" and link the certificates.
Tasks run eagerly in the web process and the job in the test's (the worker processes' side is
tests/e2e/test_journey.py); the job
uses the product's default unlearning settings. Screenshots of each page go to test-artifacts/journey/."""

import pytest
from django.core import mail

from requests_app.models import ForgetRequest, Status
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot, sign_in
from tests.fixtures.jobs import PRODUCT_JOB
from tests.requests_app.intake.support import code_in
from unlearn_jobs.jobs.models import JobStatus, UnlearnJob
from unlearn_jobs.jobs.run import unlearn_job_run
from unlearn_jobs.registry.models import VersionStatus
from unlearn_jobs.registry.selectors import production_version
from verification.gate.models import ReportStatus, VerificationReport

SLOW_MS = 300_000  # a job and a verification run inside one click, on two shared cores


def shot(page, name: str) -> None:
    screenshot(page, "journey", name)


def submit_and_confirm(page, live_server, person: dict, texts: list[str], n: int) -> str:
    """A person sends the portal form with `texts` and confirms with the e-mailed code; the status page's
    address."""
    page.goto(f"{live_server.url}/forget/")
    page.get_by_label("Your full name").fill(person["name"])
    page.get_by_label("Your e-mail address").fill(f"subject{n}@example.org")
    page.get_by_label("Where do you live?").select_option("DE")
    page.get_by_label("(b) I withdraw the consent").check()
    page.get_by_label("Text I provide").check()
    page.get_by_label("Paste the text").fill("\n\n".join(texts))
    page.get_by_label("I declare that this request").check()
    if n == 0:
        shot(page, "1-form")
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_url("**/confirm/")
    page.locator("#id_code").fill(code_in(mail.outbox[-1]))
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.wait_for_url("**/forget/status/**")
    if n == 0:
        shot(page, "2-status-in-review")
    return page.url


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.usefixtures("isolated_cache", "job_roles")
@pytest.mark.django_db(transaction=True)
def test_a_person_is_forgotten_across_the_three_roles(
    page, live_server, settings, job_env, base_version, world, officer, operator, release_manager
):
    settings.SITE_URL = live_server.url
    settings.CELERY_TASK_ALWAYS_EAGER = True
    job_env.set(**PRODUCT_JOB)
    page.set_default_timeout(SLOW_MS)
    # Two people the model was trained on each fill in the form with every text it holds about them, and
    # confirm with the e-mailed code; screening runs and each request waits for review
    people = [world.people[pid] for pid in world.members()[:2]]
    texts = {p["person_id"]: world.texts_of(p["person_id"]) for p in people}
    status_urls = [
        submit_and_confirm(page, live_server, p, texts[p["person_id"]], n) for n, p in enumerate(people)
    ]
    requests = list(ForgetRequest.objects.order_by("pk"))
    assert [r.items.count() for r in requests] == [len(texts[p["person_id"]]) for p in people]
    assert {r.status for r in requests} == {Status.IN_REVIEW}

    # The officer opens each from the queue and approves it
    sign_in(page, f"{live_server.url}/review/", officer, PASSWORD)
    for n, (person, req) in enumerate(zip(people, requests, strict=True)):
        page.get_by_role("link", name=person["name"]).click()
        page.wait_for_url(f"**/review/{req.public_id}/")
        assert page.get_by_role("heading", name=f"Request from {person['name']}").is_visible()
        if n == 0:
            shot(page, "3-review")
        page.get_by_role("button", name="Approve", exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_text("Approved.").first.is_visible()
        page.get_by_role("link", name="← Review queue").click()
    assert {r.status for r in ForgetRequest.objects.all()} == {Status.APPROVED}
    sign_out(page)

    # The operator batches it; a GPU worker runs the job (here, in this process), then the gate verifies
    sign_in(page, f"{live_server.url}/jobs/", operator, PASSWORD)
    page.get_by_role("button", name="Batch now").click()
    page.wait_for_load_state()
    job = UnlearnJob.objects.get()
    assert "Queued" in page.locator(f"#job-{job.pk}").inner_text()
    # A candidate that fails the gate has its job retried with stronger settings (at most
    # PALIMPSEST_VERIFICATION_MAX_RETRIES times): the worker runs each retry as it runs the first job
    while job is not None:
        assert unlearn_job_run(job_id=job.pk, worker_id="gpu-browser") == "succeeded"
        report = VerificationReport.objects.get(job=job)
        job = UnlearnJob.objects.filter(status=JobStatus.QUEUED).first()
    failed = [(c["name"], c["reason"]) for c in report.checks["checks"] if not c["passed"] and c["required"]]
    assert report.status == ReportStatus.PASSED, failed
    version = report.model_version
    page.reload()
    assert "Succeeded" in page.locator(f"#job-{report.job_id}").inner_text()
    shot(page, "4-job")
    sign_out(page)

    # The release manager reads the report, approves and publishes
    sign_in(page, f"{live_server.url}/releases/", release_manager, PASSWORD)
    page.get_by_role("link", name=version.label, exact=True).click()
    page.get_by_role("link", name="read the report").click()
    page.wait_for_url(f"{live_server.url}/verification/{version.label}/")
    verdict = page.locator("section", has=page.get_by_role("heading", name="Verdict")).inner_text()
    assert "Passed" in verdict
    assert (
        f"#{req.pk}"
        in page.locator("section", has=page.get_by_role("heading", name="Per request")).inner_text()
    )
    shot(page, "5-report")
    page.get_by_role("link", name=f"release page of {version.label}").click()
    page.get_by_role("button", name="Approve for release").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Publish to production").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"{version.label} is in production.").is_visible()
    shot(page, "6-published")
    assert production_version() == version and production_version().status == VersionStatus.PUBLISHED
    sign_out(page)

    # Each person's status page reads "Completed" and links the certificate; the texts are deleted
    for n, (status_url, req) in enumerate(zip(status_urls, requests, strict=True)):
        page.goto(status_url)
        where = page.locator("section", has=page.get_by_role("heading", name="Where it stands")).inner_text()
        assert "Completed" in where
        timeline = page.locator("ol.timeline").inner_text()
        assert timeline.count("The texts you sent were deleted") == 1
        if n == 0:
            shot(page, "7-status-completed")
        page.get_by_role("link", name="Your erasure certificate").click()
        assert page.get_by_role("heading", name="Erasure certificate").is_visible()
        assert f"{req.items.count()} item(s) erased from model version {version.number}" in page.content()
        if n == 0:
            shot(page, "8-certificate")
        req.refresh_from_db()
        assert req.status == Status.COMPLETED
        assert all(item.text == "" for item in req.items.all())  # hashes and counts are kept
