"""Reads for the batcher, the jobs pages and the API: waiting requests, the queue ahead, job lists with
progress and ETA, and one job's detail (metric history for loss curves, requests, attempts, log)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from django.db.models import Count, F, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from requests_app.models import ForgetRequest, Status
from requests_app.review.models import ApprovedItem
from unlearn_jobs.jobs.batcher import BatchPolicy, Candidate, estimate_tokens
from unlearn_jobs.jobs.models import (
    ACTIVE_JOB_STATUSES,
    JobAttempt,
    JobLog,
    JobMetric,
    JobRequest,
    JobStatus,
    UnlearnJob,
)


def _approved_items(**filters):
    return ApprovedItem.objects.filter(request=OuterRef("pk"), **filters).order_by().values("request")


def _count(**filters):
    return Coalesce(
        Subquery(_approved_items(**filters).annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
        0,
    )


def batch_candidates(*, max_failures: int) -> list[Candidate]:
    """Approved requests waiting for a job, with their sizes; `held` after `max_failures` failed jobs
    since their approval."""
    first_approval = _approved_items().annotate(at=Min("approved_at")).values("at")
    trained_chars = _approved_items(in_coreset=True).annotate(c=Sum("item__char_count")).values("c")
    failed_jobs = (
        JobRequest.objects.filter(
            request=OuterRef("pk"),
            carried=False,
            job__created_at__gte=OuterRef("approved_at"),
        )
        # A job that failed, or whose model failed verification, counts as a failure of its requests.
        .filter(Q(job__status=JobStatus.FAILED) | Q(job__produced_version__status="verification_failed"))
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        ForgetRequest.objects.filter(status=Status.APPROVED)
        .annotate(
            items_n=_count(),
            trained_n=_count(in_coreset=True),
            trained_chars=Coalesce(Subquery(trained_chars, output_field=IntegerField()), 0),
            approved_at=Coalesce(Subquery(first_approval), F("updated_at")),
        )
        .annotate(failures=Coalesce(Subquery(failed_jobs, output_field=IntegerField()), 0))
    )
    return [
        Candidate(
            request_id=row.pk,
            approved_at=row.approved_at,
            due_at=row.due_at,
            items=row.items_n,
            trained_items=row.trained_n,
            trained_tokens=estimate_tokens(row.trained_chars),
            held=row.failures >= max_failures,
        )
        for row in rows
    ]


def active_jobs() -> QuerySet[UnlearnJob]:
    return UnlearnJob.objects.filter(status__in=ACTIVE_JOB_STATUSES)


def observed_seconds_per_item(*, last: int = 10, at_least: int = 3) -> float | None:
    """Median wall time per trained item of the recent successful jobs; None with too few to judge."""
    jobs = UnlearnJob.objects.filter(
        status=JobStatus.SUCCEEDED, trained_items__gt=0, started_at__isnull=False, finished_at__isnull=False
    ).order_by("-finished_at")[:last]
    samples = [(j.finished_at - j.started_at).total_seconds() / j.trained_items for j in jobs]
    return median(samples) if len(samples) >= at_least else None


def backlog(*, now: datetime, policy: BatchPolicy) -> timedelta:
    """How long the jobs already queued or running are expected to keep the GPUs busy."""
    total = timedelta(0)
    for job in active_jobs():
        if job.status == JobStatus.RUNNING and job.eta_at is not None:
            total += max(job.eta_at - now, timedelta(0))
        else:
            total += policy.expected_job(job.trained_items)
    return total


def job_list(*, status: str = "") -> QuerySet[UnlearnJob]:
    jobs = (
        UnlearnJob.objects.select_related("parent_version", "produced_version")
        .annotate(request_count=Count("job_requests", filter=Q(job_requests__carried=False)))
        .order_by("-created_at", "-pk")
    )
    return jobs.filter(status=status) if status else jobs


def progress_fraction(job: UnlearnJob) -> float:
    if job.status == JobStatus.SUCCEEDED:
        return 1.0
    return round(job.step / job.total_steps, 4) if job.total_steps else 0.0


def candidate_version_id(job: UnlearnJob) -> int | None:
    version = getattr(job, "produced_version", None)
    return version.pk if version is not None else None


@dataclass(frozen=True)
class JobDetail:
    job: UnlearnJob
    requests: list[JobRequest]
    attempts: list[JobAttempt]
    log_lines: list[JobLog]
    metrics: list[JobMetric]
    retries: list[UnlearnJob]  # the jobs that retried this one after its model failed verification

    def series(self) -> dict[str, list[tuple[int, float]]]:
        """The loss curves: each logged figure as (step, value) pairs in step order."""
        curves: dict[str, list[tuple[int, float]]] = {}
        for row in self.metrics:
            for key, value in row.figures.items():
                if key != "step" and isinstance(value, int | float):
                    curves.setdefault(key, []).append((row.step, value))
        return curves


def job_detail(*, job_id: int) -> JobDetail | None:
    job = job_list().filter(pk=job_id).first()
    if job is None:
        return None
    return JobDetail(
        job=job,
        requests=list(job.job_requests.select_related("request").order_by("carried", "request_id")),
        attempts=list(job.attempts.order_by("number")),
        log_lines=list(job.log_lines.order_by("created_at", "pk")),
        metrics=list(job.metric_rows.order_by("step")),
        retries=list(job.verification_retries.order_by("pk")),
    )


def requests_held(*, max_failures: int) -> list[int]:
    """Approved requests the batcher no longer takes by itself: an operator must look and batch them."""
    return [c.request_id for c in batch_candidates(max_failures=max_failures) if c.held]
