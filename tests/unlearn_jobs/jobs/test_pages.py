"""The /jobs/ pages: who sees and who acts, "batch now" and cancel with the services' refusals shown, the
polled table that stops polling when nothing is active, and the job page's curves, retries and log."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from requests_app.audit import Actor
from requests_app.models import Status
from unlearn_jobs.jobs.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, loss_chart
from unlearn_jobs.jobs.models import BatchReason, JobAttempt, JobLog, JobMetric, JobStatus, UnlearnJob
from unlearn_jobs.jobs.services import unlearn_jobs_batch


@pytest.fixture
def queued_job(base_version, approve, world) -> UnlearnJob:
    approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    return job


def _running(job: UnlearnJob, *, step: int = 3, total: int = 8) -> UnlearnJob:
    now = timezone.now()
    UnlearnJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        attempt=1,
        step=step,
        total_steps=total,
        eta_at=now + timedelta(minutes=4),
        worker_id="gpu-1",
        heartbeat_at=now,
        started_at=now,
    )
    JobAttempt.objects.create(job=job, number=1, worker_id="gpu-1", started_at=now)
    job.refresh_from_db()
    return job


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


VIEW_PAGES = ("list", "rows", "detail", "live")


def _url(name: str, job: UnlearnJob) -> str:
    return (
        reverse(f"jobs:{name}", args=[job.pk])
        if name in ("detail", "live", "cancel")
        else reverse(f"jobs:{name}")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*VIEW_PAGES, "batch", "cancel"])
def test_anonymous_visitors_go_to_the_login_page(client, queued_job, name):
    url = _url(name, queued_job)
    response = client.post(url) if name in ("batch", "cancel") else client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={url}"
    assert UnlearnJob.objects.get(pk=queued_job.pk).status == JobStatus.QUEUED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "sees", "operates"),
    [
        (None, False, False),
        ("compliance_officer", True, False),
        ("release_manager", True, False),
        ("ml_operator", True, True),
    ],
)
def test_who_sees_and_who_operates(
    client, make_user, job_roles, queued_job, approve, world, role, sees, operates
):
    # Given a signed-in user of the role, a queued job and another approved request waiting
    user = make_user("someone", *([role] if role else []))
    _login(client, user)
    # Then the pages answer 200 to those who may view, 403 to the others
    for name in VIEW_PAGES:
        assert client.get(_url(name, queued_job)).status_code == (200 if sees else 403), name
    # And the nav shows "Jobs" to viewers only
    nav = client.get(reverse("requests_app:forget")).content.decode()
    assert ('href="/jobs/">Jobs</a>' in nav) is sees
    # And the list and job page offer the buttons only to operators
    if sees:
        assert ("Batch now" in client.get(reverse("jobs:list")).content.decode()) is operates
        detail = client.get(_url("detail", queued_job)).content.decode()
        assert (f"Cancel job {queued_job.pk}" in detail) is operates
    # And only operators may batch or cancel; the others change nothing
    cancel = client.post(_url("cancel", queued_job))
    assert cancel.status_code == (302 if operates else 403)
    expected = JobStatus.CANCELLED if operates else JobStatus.QUEUED
    assert UnlearnJob.objects.get(pk=queued_job.pk).status == expected
    waiting = approve(world.members()[1])
    assert client.post(reverse("jobs:batch")).status_code == (302 if operates else 403)
    waiting.refresh_from_db()
    assert waiting.status == (Status.UNLEARNING if operates else Status.APPROVED)


@pytest.mark.django_db
def test_bad_ids_are_404_never_500(client, operator, queued_job):
    _login(client, operator)
    for job_id in (queued_job.pk + 1000, 2**63, 10**30):
        assert client.get(f"/jobs/{job_id}/").status_code == 404
        assert client.post(f"/jobs/{job_id}/cancel/").status_code == 404
    assert client.get("/jobs/abc/").status_code == 404
    assert client.get("/jobs/-1/").status_code == 404
    assert UnlearnJob.objects.get(pk=queued_job.pk).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_batch_now_makes_a_job_and_shows_each_refusal(client, operator, base_version, approve, world):
    _login(client, operator)
    # Nothing waiting: the service's refusal is shown and no job is made
    page = client.post(reverse("jobs:batch"), follow=True).content.decode()
    assert "No approved request is waiting for a job." in page and not UnlearnJob.objects.exists()
    # Two requests waiting: one manual job holds both, made by the operator
    first, second = approve(world.members()[0]), approve(world.members()[1])
    response = client.post(reverse("jobs:batch"), follow=True)
    job = UnlearnJob.objects.get()
    assert response.redirect_chain == [(reverse("jobs:list"), 302)]
    assert (job.reason, job.created_by, job.status) == (BatchReason.MANUAL, operator, JobStatus.QUEUED)
    assert set(job.requests.values_list("pk", flat=True)) == {first.pk, second.pk}
    page = response.content.decode()
    assert f"Batched the waiting requests into job {job.pk}." in page
    row = re.search(rf'<tr id="job-{job.pk}">.*?</tr>', page, re.S).group(0)
    assert "Queued" in row and "Waiting for a worker" in row and ">2</td>" in row
    # A third request while the job is queued: refused with the job to wait for
    approve(world.members()[2])
    page = client.post(reverse("jobs:batch"), follow=True).content.decode()
    assert f"Job {job.pk} is still queued or running" in page and UnlearnJob.objects.count() == 1


@pytest.mark.django_db
def test_posts_without_a_csrf_token_are_refused(operator, queued_job):
    client = _login(Client(enforce_csrf_checks=True), operator)
    assert client.post(reverse("jobs:cancel", args=[queued_job.pk])).status_code == 403
    assert client.post(reverse("jobs:batch")).status_code == 403
    assert UnlearnJob.objects.get(pk=queued_job.pk).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_cancel_a_queued_then_a_running_job(client, operator, queued_job, approve, world):
    _login(client, operator)
    # A queued job ends at once and its request is approved again
    page = client.post(reverse("jobs:cancel", args=[queued_job.pk]), follow=True).content.decode()
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.CANCELLED
    assert queued_job.requests.get().status == Status.APPROVED
    assert f"Job {queued_job.pk} is cancelled; its requests are approved again." in page
    assert "Cancelled before a step was run" in client.get(reverse("jobs:rows")).content.decode()
    # Cancelling it again is refused in words, not with an error page
    again = client.post(reverse("jobs:cancel", args=[queued_job.pk]), follow=True)
    assert again.status_code == 200
    assert f"Job {queued_job.pk} has already cancelled; nothing to cancel." in again.content.decode()
    # A running job is asked to stop at its next logged step
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    _running(job)
    page = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True).content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.cancel_requested_at is not None
    assert "Cancellation requested: job" in page and f"Cancel job {job.pk}</button>" not in page


@pytest.mark.django_db
def test_the_table_polls_while_a_job_is_active_and_stops_after(client, operator, queued_job):
    _login(client, operator)
    # Given a running job at step 3 of 8 with an ETA
    _running(queued_job)
    # The list page polls the rows partial with htmx, with neither inline script nor inline style
    page = client.get(reverse("jobs:list")).content.decode()
    assert 'hx-get="/jobs/rows/" hx-trigger="every 3s" hx-swap="outerHTML"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "style=" not in page
    # The partial alone: the row's progress bar, step and ETA, and the polling attributes again
    rows = client.get(reverse("jobs:rows")).content.decode()
    assert rows.lstrip().startswith('<div id="job-rows" hx-get="/jobs/rows/" hx-trigger="every 3s"')
    assert "<html" not in rows and "Batch now" not in rows
    assert '<progress max="100" value="38"' in rows and "38 % · step 3 of 8" in rows
    assert "done in about 3\xa0minutes" in rows or "done in about 4\xa0minutes" in rows
    # When the job has finished, the partial shows it done and carries no trigger: polling stops
    UnlearnJob.objects.filter(pk=queued_job.pk).update(status=JobStatus.SUCCEEDED, step=8)
    rows = client.get(reverse("jobs:rows")).content.decode()
    assert "hx-trigger" not in rows and '<progress max="100" value="100"' in rows
    assert "Succeeded" in rows and "No job is queued or running." in rows


@pytest.mark.django_db
def test_the_job_page_follows_its_running_job_and_stops_after(client, operator, queued_job):
    _login(client, operator)
    _running(queued_job)
    live = reverse("jobs:live", args=[queued_job.pk])
    # The job page polls its progress-and-curves part while the job runs
    page = client.get(reverse("jobs:detail", args=[queued_job.pk])).content.decode()
    assert f'<div id="job-live" hx-get="{live}" hx-trigger="every 3s" hx-swap="outerHTML">' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "style=" not in page
    # A step logged meanwhile shows up in the part, with its curve
    JobMetric.objects.create(
        job=queued_job, step=2, attempt=1, figures={"forget/nll": 1.0, "retain/nll": 0.5}
    )
    JobMetric.objects.create(
        job=queued_job, step=4, attempt=1, figures={"forget/nll": 1.4, "retain/nll": 0.5}
    )
    UnlearnJob.objects.filter(pk=queued_job.pk).update(step=4)
    part = client.get(live).content.decode()
    assert "<html" not in part and "4 of 8 (50 %)" in part and part.count('<polyline class="curve"') == 2
    # Once the job has succeeded the part says so and carries no trigger
    UnlearnJob.objects.filter(pk=queued_job.pk).update(status=JobStatus.SUCCEEDED, step=8)
    part = client.get(live).content.decode()
    assert "hx-trigger" not in part and "<dd>Succeeded</dd>" in part


@pytest.mark.django_db
def test_the_job_page_draws_its_curves_and_shows_error_retry_and_log(
    client, release_manager, job_roles, queued_job
):
    # Given a failed job with four logged steps, an attempt, a log line, and a verification retry of it
    for step, forget, retain in ((2, 1.0, 0.5), (4, 1.5, 0.52), (6, 2.0, 0.51), (8, 3.0, 0.55)):
        JobMetric.objects.create(
            job=queued_job,
            step=step,
            attempt=1,
            figures={"step": step, "forget/nll": forget, "retain/nll": retain},
        )
    UnlearnJob.objects.filter(pk=queued_job.pk).update(
        status=JobStatus.FAILED, error="RuntimeError: collapse guard", step=8, total_steps=8
    )
    JobLog.objects.create(job=queued_job, attempt=1, level="error", message="failed for good (RuntimeError)")
    retry = UnlearnJob.objects.create(
        max_attempts=5,
        method="npo",
        mode="lora",
        strategy="incremental",
        reason=BatchReason.VERIFICATION,
        parent_version=queued_job.parent_version,
        retry_of=queued_job,
        verification_retry=1,
    )
    _login(client, release_manager)
    # The failed job's page: two SVG curves with a point per logged step, the error and the retry link
    page = client.get(reverse("jobs:detail", args=[queued_job.pk])).content.decode()
    curves = re.findall(r'<polyline class="curve" points="([^"]+)"', page)
    assert len(curves) == 2 and [len(points.split()) for points in curves] == [4, 4]
    assert "forget/nll</span>: 1.0000 → 3.0000 over 4 logged steps" in page
    assert "retain/nll</span>: 0.5000 → 0.5500 over 4 logged steps" in page
    assert "RuntimeError: collapse guard" in page and "failed for good (RuntimeError)" in page
    assert f'retried as <a href="/jobs/{retry.pk}/">job {retry.pk}</a> (retry 1)' in page
    assert "batched 1 request(s) (manual)" in page
    # The retry's page links back to the job it retries and says it has no curve yet
    page = client.get(reverse("jobs:detail", args=[retry.pk])).content.decode()
    assert f'Retry 1 of <a href="/jobs/{queued_job.pk}/">job {queued_job.pk}</a>' in page
    assert "No step logged yet" in page and "<polyline" not in page


def test_a_chart_maps_the_first_and_last_points_to_its_edges():
    # Two points: step 0 at the bottom-left corner of the plot, step 10 at the top-right (5 % padding)
    chart = loss_chart("forget/nll", "Forget", [(0, 1.0), (10, 3.0)])
    low, high = 1.0 - 0.1, 3.0 + 0.1
    bottom, top = HEIGHT - BOTTOM, TOP
    y_first = round(bottom + (1.0 - low) / (high - low) * (top - bottom), 1)
    y_last = round(bottom + (3.0 - low) / (high - low) * (top - bottom), 1)
    assert chart.points == f"{float(LEFT)},{y_first} {float(WIDTH - RIGHT)},{y_last}"
    assert y_first > y_last  # a rising loss goes up the chart
    assert loss_chart("retain/nll", "Retain", []) is None
