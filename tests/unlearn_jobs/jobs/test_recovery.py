"""Recovery on the database and the real broker, on a frozen clock: a retry waits out its backoff, the
reaper queues a job whose worker went silent (or ends it when out of attempts or cancelled), and the
reconciler returns requests stranded without a live job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.audit import Actor
from requests_app.models import AuditEvent, Status
from unlearn_jobs.jobs import config, dispatch, lifecycle
from unlearn_jobs.jobs.models import AttemptOutcome, JobStatus, UnlearnJob
from unlearn_jobs.jobs.recovery import return_stranded_requests, unlearn_jobs_reap
from unlearn_jobs.jobs.services import unlearn_job_cancel, unlearn_jobs_batch


@pytest.fixture
def running_job(redis_broker, base_version, approve, world, job_env):
    job_env.set(PALIMPSEST_UNLEARN_MAX_ATTEMPTS=2, PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS=60)
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert lifecycle.unlearn_job_claim(job_id=job.pk, worker_id="w1").number == 1
    return UnlearnJob.objects.get(pk=job.pk), req


def test_backoff_doubles_up_to_its_cap(settings):
    settings.PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS = 30
    settings.PALIMPSEST_UNLEARN_RETRY_BACKOFF_MAX_SECONDS = 100
    assert [config.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


@pytest.mark.django_db
def test_a_retry_is_neither_claimed_nor_sent_before_its_backoff_ends(running_job):
    job, req = running_job
    # Given a transient failure of the first attempt
    lifecycle.unlearn_job_attempt_failed(job_id=job.pk, attempt=1, error="OSError: disk gone", transient=True)
    job.refresh_from_db()
    assert (job.status, job.attempts.get().outcome) == (JobStatus.QUEUED, AttemptOutcome.RETRY)
    now = timezone.now()
    assert job.not_before > now + timedelta(seconds=55)
    # Then a message that arrives early is turned away, and the reaper waits too
    assert lifecycle.unlearn_job_claim(job_id=job.pk, worker_id="w2") is None
    assert unlearn_jobs_reap(now=now)["sent"] == 0
    # When the backoff has passed, the reaper sends it once
    later = now + timedelta(seconds=61)
    assert unlearn_jobs_reap(now=later)["sent"] == 1
    assert unlearn_jobs_reap(now=later)["sent"] == 0
    assert job.pk in dispatch.queued_job_ids(max_unacked_age=60)
    req.refresh_from_db()
    assert req.status == Status.UNLEARNING  # still the job's while it retries


@pytest.mark.django_db
def test_the_reaper_requeues_a_silent_worker_then_fails_the_job_when_out_of_attempts(running_job, job_env):
    job, req = running_job
    silent = timezone.now() + timedelta(seconds=10)  # 3 s make a heartbeat stale in these tests
    assert unlearn_jobs_reap(now=silent) == {"reaped": 1, "sent": 1}
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and "no heartbeat" in job.error
    assert job.attempts.get().outcome == AttemptOutcome.LOST
    # The old worker wakes up: its progress is refused and it stops
    assert (
        lifecycle.unlearn_job_progress(job_id=job.pk, attempt=1, step=2, total=8, figures={}, eta_at=None)
        == "lost"
    )
    # The second (last) attempt goes silent too
    assert lifecycle.unlearn_job_claim(job_id=job.pk, worker_id="w2").number == 2
    assert unlearn_jobs_reap(now=timezone.now() + timedelta(seconds=10))["reaped"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "gave up after 2 attempts" in job.error
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert AuditEvent.objects.filter(action="unlearn_job.failed", object_id=str(req.pk)).exists()


@pytest.mark.django_db
def test_a_cancel_requested_of_a_dead_worker_is_finished_by_the_reaper(running_job, operator):
    job, req = running_job
    assert unlearn_job_cancel(job_id=job.pk, actor=Actor.user(operator)).status == JobStatus.RUNNING
    unlearn_jobs_reap(now=timezone.now() + timedelta(seconds=10))
    job.refresh_from_db()
    req.refresh_from_db()
    assert (job.status, req.status) == (JobStatus.CANCELLED, Status.APPROVED)


@pytest.mark.django_db
def test_requests_stranded_in_unlearning_go_back_to_approved(running_job, approve, world):
    job, req = running_job
    stranded = approve(world.members()[1], status=Status.UNLEARNING)
    assert return_stranded_requests() == 1
    stranded.refresh_from_db()
    req.refresh_from_db()
    assert (stranded.status, req.status) == (Status.APPROVED, Status.UNLEARNING)
    assert AuditEvent.objects.filter(action="unlearn_job.reconciled", object_id=str(stranded.pk)).exists()
