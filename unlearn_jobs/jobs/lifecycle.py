"""The job's transitions after it is made: claim, progress, success, failure, retry, cancellation.

Each is a compare-and-set on (status, attempt): a worker acts on a job only while the row still carries
the attempt it claimed, so a worker that was presumed dead and replaced changes nothing when it wakes.
A job that ends without a model puts its requests back to `approved`: never lost, never stuck.
"""

import logging
import math
import shutil
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from requests_app.audit import Actor, audit_append
from requests_app.models import Status
from requests_app.services import apply_transition, lock_request
from unlearn_jobs.jobs import config
from unlearn_jobs.jobs.models import (
    AttemptOutcome,
    JobAttempt,
    JobLog,
    JobMetric,
    JobRequest,
    JobStatus,
    LogLevel,
    UnlearnJob,
)
from unlearn_jobs.jobs.signals import candidate_registered
from unlearn_jobs.registry import services as registry
from unlearn_jobs.registry.models import ModelVersion

MAX_ERROR_CHARS = 2000
logger = logging.getLogger(__name__)


def job_log(job: UnlearnJob, message: str, *, level: LogLevel = LogLevel.INFO) -> None:
    JobLog.objects.create(job=job, attempt=job.attempt, level=level, message=message)


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


def _locked_job(job_id: int) -> UnlearnJob:
    return UnlearnJob.objects.select_for_update().get(pk=job_id)


def _close_attempt(job: UnlearnJob, outcome: AttemptOutcome, error: str = "") -> None:
    JobAttempt.objects.filter(job=job, number=job.attempt, outcome=AttemptOutcome.RUNNING).update(
        outcome=outcome, error=error, finished_at=timezone.now()
    )


def _move_requests(job: UnlearnJob, *, to: Status, action: str, data: dict) -> int:
    """Move the job's own (not carried) requests that are still in `unlearning` to `to`."""
    moved = 0
    for request_id in JobRequest.objects.filter(job=job, carried=False).values_list("request_id", flat=True):
        req = lock_request(request_id=request_id)
        if req.status == Status.UNLEARNING:
            apply_transition(req, to=to, actor=Actor.system(), action=action, data={"job_id": job.pk, **data})
            moved += 1
    return moved


def finish_without_model(job: UnlearnJob, *, status: JobStatus, error: str = "", actor: Actor) -> UnlearnJob:
    """Failed for good or cancelled: the job ends and its requests go back to `approved`."""
    outcome = AttemptOutcome.FAILED if status == JobStatus.FAILED else AttemptOutcome.CANCELLED
    _close_attempt(job, outcome, error)
    job.status, job.finished_at, job.eta_at = status, timezone.now(), None
    job.worker_id, job.heartbeat_at = "", None
    if error:
        job.error = error
    job.save(
        update_fields=["status", "finished_at", "eta_at", "worker_id", "heartbeat_at", "error", "updated_at"]
    )
    action = "unlearn_job.failed" if status == JobStatus.FAILED else "unlearn_job.cancelled"
    returned = _move_requests(job, to=Status.APPROVED, action=action, data={})
    job_log(
        job,
        f"{status.label}; {returned} request(s) returned to approved" + (f": {error}" if error else ""),
        level=LogLevel.ERROR if status == JobStatus.FAILED else LogLevel.WARNING,
    )
    audit_append(
        actor=actor,
        action=action,
        obj=job,
        data={"attempt": job.attempt, "requests_returned": returned, "error_type": error.split(":")[0][:64]},
    )
    return job


@transaction.atomic
def unlearn_job_claim(*, job_id: int, worker_id: str) -> JobAttempt | None:
    """Take a queued job for this worker; None when it is not queued, backing off, or out of attempts
    (a duplicate delivery, or a job another worker already holds)."""
    now = timezone.now()
    claimed = UnlearnJob.objects.filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now),
        pk=job_id,
        status=JobStatus.QUEUED,
        attempt__lt=F("max_attempts"),
        cancel_requested_at__isnull=True,
    ).update(
        status=JobStatus.RUNNING,
        attempt=F("attempt") + 1,
        worker_id=worker_id,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), now),
        not_before=None,
        updated_at=now,
    )
    if not claimed:
        return None
    job = UnlearnJob.objects.get(pk=job_id)
    attempt = JobAttempt.objects.create(job=job, number=job.attempt, worker_id=worker_id, started_at=now)
    job_log(job, f"attempt {job.attempt} of {job.max_attempts} started on {worker_id}")
    audit_append(actor=Actor.system(), action="unlearn_job.started", obj=job, data={"attempt": job.attempt})
    return attempt


def _finite(figures: dict) -> dict:
    """JSON-safe figures: a non-finite value (a diverging loss) is kept as null."""
    return {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None)
        for k, v in figures.items()
        if isinstance(v, int | float | None)
    }


def unlearn_job_progress(
    *, job_id: int, attempt: int, step: int, total: int, figures: dict, eta_at: datetime | None
) -> str:
    """Record a logged step (and beat the heartbeat). Returns `continue`, `cancel` (an operator asked)
    or `lost` (the job is no longer this attempt's)."""
    now = timezone.now()
    clean = _finite(figures)
    with transaction.atomic():
        updated = UnlearnJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempt=attempt).update(
            step=step, total_steps=total, metrics=clean, eta_at=eta_at, heartbeat_at=now, updated_at=now
        )
        if not updated:
            return "lost"
        JobMetric.objects.update_or_create(
            job_id=job_id, step=step, defaults={"attempt": attempt, "figures": clean}
        )
    cancelled = UnlearnJob.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists()
    return "cancel" if cancelled else "continue"


def unlearn_job_heartbeat(*, job_id: int, attempt: int) -> bool:
    """Beat between logs (model loading, long steps); False when the job is no longer this attempt's."""
    now = timezone.now()
    return bool(
        UnlearnJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempt=attempt).update(
            heartbeat_at=now
        )
    )


def unlearn_job_record_inputs(
    *, job_id: int, attempt: int, retain_hashes: list[str], checkpoint_path: str, recorded: bool
) -> None:
    """Freeze the retain set an attempt chose, so that the next attempt resumes the same spec."""
    UnlearnJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempt=attempt).update(
        retain_hashes=retain_hashes, retain_items=len(retain_hashes), checkpoint_path=checkpoint_path
    )
    if not recorded:
        JobLog.objects.create(
            job_id=job_id, attempt=attempt, message=f"retain set chosen: {len(retain_hashes)} texts"
        )


def _utility_cost(figures: dict) -> float:
    """The engine's retain-NLL rise over the parent (0 when it did not measure one)."""
    after, before = figures.get("retain/nll"), figures.get("retain/initial_nll")
    if isinstance(after, int | float) and isinstance(before, int | float):
        return max(0.0, float(after) - float(before))
    return 0.0


def announce_candidate(version_id: int) -> None:
    """Tell verification (whoever connected) that a candidate waits; the reconciler repeats it."""
    registry.model_version_mark_verification_requested(version_id=version_id)
    for receiver, outcome in candidate_registered.send_robust(sender=ModelVersion, version_id=version_id):
        if isinstance(outcome, Exception):  # told again by the reconciler
            logger.warning(
                "version %s: receiver %r failed (%s)", version_id, receiver, type(outcome).__name__
            )


@transaction.atomic
def unlearn_job_complete(
    *, job_id: int, attempt: int, artifact_dir: Path, figures: dict, steps_done: int, resumed_from: int
) -> ModelVersion | None:
    """Register the artifact as a candidate version, move the requests to `verifying` and announce the
    candidate after commit. None (nothing registered) when the job is no longer this attempt's."""
    job = _locked_job(job_id)
    if job.status != JobStatus.RUNNING or job.attempt != attempt:
        return None
    parent = job.parent_version
    own = list(JobRequest.objects.filter(job=job).values_list("request_id", flat=True))
    included = sorted(set(own) | set(parent.included_requests.values_list("pk", flat=True)))
    version = registry.model_version_register_candidate(
        job=job,
        parent=parent,
        strategy=job.strategy,
        artifact_path=artifact_dir,
        included_request_ids=included,
        utility_cost=_utility_cost(figures),
        actor=Actor.system(),
    )
    _close_attempt(job, AttemptOutcome.SUCCEEDED)
    JobAttempt.objects.filter(job=job, number=attempt).update(resumed_from_step=resumed_from)
    job.status, job.finished_at, job.eta_at, job.step = JobStatus.SUCCEEDED, timezone.now(), None, steps_done
    job.artifact_path, job.error = str(artifact_dir), ""
    job.save(
        update_fields=["status", "finished_at", "eta_at", "step", "artifact_path", "error", "updated_at"]
    )
    moved = _move_requests(
        job, to=Status.VERIFYING, action="unlearn_job.succeeded", data={"version_id": version.pk}
    )
    job_log(job, f"succeeded: candidate v{version.number}; {moved} request(s) moved to verifying")
    audit_append(
        actor=Actor.system(),
        action="unlearn_job.succeeded",
        obj=job,
        data={
            "attempt": attempt,
            "version_id": version.pk,
            "steps": steps_done,
            "resumed_from": resumed_from,
        },
    )
    transaction.on_commit(lambda: announce_candidate(version.pk))
    return version


@transaction.atomic
def unlearn_job_attempt_failed(
    *, job_id: int, attempt: int, error: str, transient: bool
) -> UnlearnJob | None:
    """A failed attempt: queued again after a backoff when the error is transient and attempts remain
    (the reaper sends it when due), otherwise the job fails for good. None when it is no longer ours."""
    job = _locked_job(job_id)
    if job.status != JobStatus.RUNNING or job.attempt != attempt:
        return None
    if job.cancel_requested_at is not None:
        return finish_without_model(job, status=JobStatus.CANCELLED, actor=Actor.system())
    if not transient or job.attempt >= job.max_attempts:
        reason = error if not transient else f"gave up after {job.attempt} attempts; last: {error}"
        return finish_without_model(
            job, status=JobStatus.FAILED, error=reason[:MAX_ERROR_CHARS], actor=Actor.system()
        )
    return requeue(job, outcome=AttemptOutcome.RETRY, error=error, delay=config.retry_delay(job.attempt))


def requeue(job: UnlearnJob, *, outcome: AttemptOutcome, error: str, delay) -> UnlearnJob:
    """Back to `queued` (on a locked row), not to be sent before the delay: the next attempt resumes from
    the last checkpoint."""
    _close_attempt(job, outcome, error)
    job.status, job.worker_id, job.heartbeat_at, job.eta_at = JobStatus.QUEUED, "", None, None
    job.not_before, job.dispatched_at, job.error = timezone.now() + delay, None, error
    job.save(
        update_fields=[
            "status",
            "worker_id",
            "heartbeat_at",
            "eta_at",
            "not_before",
            "dispatched_at",
            "error",
            "updated_at",
        ]
    )
    job_log(
        job,
        f"attempt {job.attempt} {outcome.label.lower()}: {error}; retry in {int(delay.total_seconds())} s",
        level=LogLevel.WARNING,
    )
    audit_append(
        actor=Actor.system(),
        action="unlearn_job.requeued",
        obj=job,
        data={"attempt": job.attempt, "outcome": outcome, "delay_s": int(delay.total_seconds())},
    )
    return job


@transaction.atomic
def unlearn_job_stopped_cancelled(*, job_id: int, attempt: int) -> UnlearnJob | None:
    """The worker stopped at a step boundary because an operator cancelled."""
    job = _locked_job(job_id)
    if job.status != JobStatus.RUNNING or job.attempt != attempt:
        return None
    job_log(job, f"stopped at step {job.step} of {job.total_steps} on cancellation")
    return finish_without_model(job, status=JobStatus.CANCELLED, actor=Actor.system())


def remove_attempt_artifacts(job: UnlearnJob, *, keep: Path | None = None) -> None:
    """Artifacts of attempts that were never registered (a cancelled or superseded run) are dropped."""
    root = config.job_dir(job.pk)
    for path in root.glob("attempt-*"):
        if keep is None or path.resolve() != Path(keep).resolve().parent:
            shutil.rmtree(path, ignore_errors=True)
