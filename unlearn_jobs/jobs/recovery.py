"""Recovery, run by beat: the database says what must be in flight, these make the broker and the workers
agree with it.

- The reaper (every minute) queues again a running job whose heartbeat went stale (its worker died or
  was pre-empted; the next attempt resumes from the last checkpoint) and sends queued jobs whose retry
  backoff has ended.
- The reconciler (every few minutes) sends again the queued jobs the broker no longer holds (Redis
  restarted empty), returns requests stranded in `unlearning` without a live job, runs the batcher over
  the approved requests, and announces again the candidates still waiting for verification.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from requests_app.audit import Actor
from requests_app.models import ForgetRequest, Status
from requests_app.services import apply_transition, lock_request
from unlearn_jobs.jobs import dispatch, services
from unlearn_jobs.jobs.lifecycle import announce_candidate, finish_without_model, job_log, requeue
from unlearn_jobs.jobs.models import ACTIVE_JOB_STATUSES, AttemptOutcome, JobRequest, JobStatus, UnlearnJob
from unlearn_jobs.registry.models import ModelVersion, VersionStatus

logger = logging.getLogger(__name__)


def _reap_one(job_id: int, stale_before: datetime) -> bool:
    with transaction.atomic():
        job = UnlearnJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING or job.heartbeat_at is None or job.heartbeat_at >= stale_before:
            return False
        silent = int((timezone.now() - job.heartbeat_at).total_seconds())
        error = f"worker {job.worker_id} lost: no heartbeat for {silent} s"
        if job.cancel_requested_at is not None:
            finish_without_model(job, status=JobStatus.CANCELLED, actor=Actor.system())
        elif job.attempt >= job.max_attempts:
            error = f"gave up after {job.attempt} attempts; last: {error}"
            finish_without_model(job, status=JobStatus.FAILED, error=error, actor=Actor.system())
        else:
            requeue(job, outcome=AttemptOutcome.LOST, error=error, delay=timedelta(0))
    return True


def send_due_jobs(*, now: datetime) -> int:
    """Send every queued job that is due and was not sent since it was queued."""
    due = UnlearnJob.objects.filter(status=JobStatus.QUEUED, dispatched_at__isnull=True).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )
    sent = 0
    for job_id in due.values_list("pk", flat=True):
        # Stamped before the send: a crash in between leaves a stamped job the broker does not hold,
        # which the reconciler sends again.
        if UnlearnJob.objects.filter(pk=job_id, status=JobStatus.QUEUED, dispatched_at__isnull=True).update(
            dispatched_at=now
        ):
            sent += dispatch.send_run(job_id)
    return sent


def unlearn_jobs_reap(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.PALIMPSEST_UNLEARN_STALE_AFTER_SECONDS)
    stale = UnlearnJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before)
    reaped = sum(_reap_one(job_id, stale_before) for job_id in stale.values_list("pk", flat=True))
    return {"reaped": reaped, "sent": send_due_jobs(now=now)}


def resend_lost_jobs(*, now: datetime) -> int:
    """Queued jobs sent a while ago that the broker no longer holds. Nothing is resent when the broker
    cannot be read (the embedded filesystem transport does not lose messages on restart)."""
    grace = settings.PALIMPSEST_UNLEARN_RESEND_AFTER_SECONDS
    held = dispatch.queued_job_ids(max_unacked_age=grace)
    if held is None:
        return 0
    waiting = UnlearnJob.objects.filter(
        status=JobStatus.QUEUED, dispatched_at__lt=now - timedelta(seconds=grace)
    ).exclude(pk__in=held)
    resent = 0
    for job in waiting:
        if UnlearnJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(dispatched_at=now):
            job_log(job, "sent again: the broker no longer held its message")
            resent += dispatch.send_run(job.pk)
    return resent


def return_stranded_requests() -> int:
    """Requests in `unlearning` that no queued or running job holds go back to `approved`."""
    live = JobRequest.objects.filter(job__status__in=ACTIVE_JOB_STATUSES, carried=False).values("request_id")
    returned = 0
    for request_id in (
        ForgetRequest.objects.filter(status=Status.UNLEARNING)
        .exclude(pk__in=live)
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            req = lock_request(request_id=request_id)
            still_live = JobRequest.objects.filter(
                request=req, carried=False, job__status__in=ACTIVE_JOB_STATUSES
            ).exists()
            if req.status == Status.UNLEARNING and not still_live:
                apply_transition(
                    req, to=Status.APPROVED, actor=Actor.system(), action="unlearn_job.reconciled"
                )
                returned += 1
    return returned


def announce_waiting_candidates(*, now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings.PALIMPSEST_UNLEARN_VERIFICATION_RESEND_SECONDS)
    waiting = ModelVersion.objects.filter(status=VersionStatus.CANDIDATE, produced_by__isnull=False).filter(
        Q(verification_requested_at__isnull=True) | Q(verification_requested_at__lt=cutoff)
    )
    count = 0
    for version_id in waiting.values_list("pk", flat=True):
        announce_candidate(version_id)
        count += 1
    return count


def unlearn_jobs_reconcile(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    figures = {
        "resent": resend_lost_jobs(now=now),
        "returned": return_stranded_requests(),
        "batched": 0,
        "announced": announce_waiting_candidates(now=now),
    }
    if settings.PALIMPSEST_BATCH_AUTO:
        figures["batched"] = len(services.unlearn_jobs_batch(actor=Actor.system(), now=now))
    if any(figures.values()):
        logger.info("reconciled unlearning jobs: %s", figures)
    return figures
