"""An ML operator works the jobs pages in a real browser: signs in, batches, cancels the queued job,
batches again and watches the table follow a worker's progress without a reload, then opens a finished
job (trained for real, in this process, on the tiny world) and reads its loss curves. Screenshots of
each page go to test-artifacts/jobs/."""

# The jobs tests' fixtures are imported here, so the test's arguments "redefine" them (F811).
# ruff: noqa: F811

from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.audit import Actor
from requests_app.models import Status
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot, sign_in
from unlearn_jobs.jobs import lifecycle
from unlearn_jobs.jobs.models import JobMetric, JobStatus, UnlearnJob
from unlearn_jobs.jobs.run import unlearn_job_run
from unlearn_jobs.jobs.services import unlearn_jobs_batch


def shot(page, name: str) -> None:
    screenshot(page, "jobs", name)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_operator_batches_cancels_follows_progress_and_reads_curves(
    page,
    live_server,
    redis_broker,
    base_version,
    approve,
    world,
    operator,
):
    # Given a job that really ran on the tiny world (8 steps, a figure logged every 2) ...
    approve(world.members()[0])
    (finished,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert unlearn_job_run(job_id=finished.pk, worker_id="gpu-test") == "succeeded"
    assert list(JobMetric.objects.filter(job=finished).values_list("step", flat=True)) == [2, 4, 6, 8]
    # ... and another approved request waiting for a job
    waiting = approve(world.members()[1])

    # The jobs page asks for a login first
    sign_in(page, f"{live_server.url}/jobs/", operator, PASSWORD)
    assert page.get_by_role("link", name="Jobs", exact=True).is_visible()
    assert "Succeeded" in page.locator(f"#job-{finished.pk}").inner_text()

    # Batch now: a queued job holding the waiting request
    page.get_by_role("button", name="Batch now").click()
    page.wait_for_load_state()
    queued = UnlearnJob.objects.exclude(pk=finished.pk).get()
    assert page.get_by_text(f"Batched the waiting requests into job {queued.pk}.").is_visible()
    row = page.locator(f"#job-{queued.pk}")
    assert "Queued" in row.inner_text() and "Waiting for a worker" in row.inner_text()
    shot(page, "1-batched")

    # The operator opens the queued job and cancels it: its request is approved again
    page.get_by_role("link", name=f"Job {queued.pk}", exact=True).click()
    page.wait_for_url(f"**/jobs/{queued.pk}/")
    page.get_by_role("button", name=f"Cancel job {queued.pk}").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Job {queued.pk} is cancelled; its requests are approved again.").is_visible()
    assert UnlearnJob.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
    waiting.refresh_from_db()
    assert waiting.status == Status.APPROVED
    shot(page, "2-cancelled")

    # Batched again; a worker claims the new job and logs step 4 of 8: the table follows, no reload
    page.get_by_role("link", name="← Unlearning jobs").click()
    page.wait_for_url(f"{live_server.url}/jobs/")
    page.get_by_role("button", name="Batch now").click()
    page.wait_for_load_state()
    running = UnlearnJob.objects.exclude(pk__in=[finished.pk, queued.pk]).get()
    page.evaluate("window.sameDocument = true")
    attempt = lifecycle.unlearn_job_claim(job_id=running.pk, worker_id="gpu-test")
    eta = timezone.now() + timedelta(minutes=5)
    figures = {"forget/nll": 2.1, "retain/nll": 0.4}
    lifecycle.unlearn_job_progress(
        job_id=running.pk, attempt=attempt.number, step=4, total=8, figures=figures, eta_at=eta
    )
    row = page.locator(f"#job-{running.pk}")
    row.get_by_text("50 % · step 4 of 8").wait_for(timeout=15_000)
    assert "Running" in row.inner_text() and "done in about" in row.inner_text()
    assert row.locator("progress").get_attribute("value") == "50"
    assert page.evaluate("window.sameDocument") is True  # updated in place by htmx, not reloaded
    shot(page, "3-progress")

    # The finished job's page: forget and retain curves with a point per logged step
    page.get_by_role("link", name=f"Job {finished.pk}", exact=True).click()
    page.wait_for_url(f"**/jobs/{finished.pk}/")
    curves = page.locator("polyline.curve")
    assert curves.count() == 2
    assert [len(curves.nth(i).get_attribute("points").split()) for i in range(2)] == [4, 4]
    assert page.get_by_text("over 4 logged steps").count() == 2
    assert "Succeeded" in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_role("button", name=f"Cancel job {finished.pk}").count() == 0
    shot(page, "4-curves")
