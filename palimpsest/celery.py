"""The Celery app: three queues (cpu, gpu, eval), late acks, one task at a time per GPU worker."""

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "palimpsest.settings")

app = Celery("palimpsest")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _transport_options() -> dict:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.BROKER_DIR
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    # Redis redelivers an unacknowledged task after visibility_timeout: longer than the longest job.
    return {"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT}


app.conf.update(
    broker_transport_options=_transport_options(),
    result_backend_transport_options={"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT},
    visibility_timeout=settings.CELERY_VISIBILITY_TIMEOUT,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # A GPU worker busy with one job must not also hold the next one's message (another free GPU worker
    # should take it): on Redis, reserve no more tasks than the worker runs at once.
    worker_disable_prefetch=settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
    # A broker blip must not kill an hours-long job: it keeps running, the database tracks it, and the
    # lost acknowledgement only means a late duplicate delivery, which the job's claim turns away.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    task_default_queue="cpu",
    task_routes={
        "requests_app.*": {"queue": "cpu"},
        "unlearn_jobs.jobs.tasks.run_unlearn_job": {"queue": "gpu"},
        "unlearn_jobs.*": {"queue": "cpu"},
        "verification.tasks.*": {"queue": "eval"},
        "palimpsest.tasks.*": {"queue": "cpu"},
    },
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    timezone="UTC",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "expire-unconfirmed-requests": {
            "task": "requests_app.intake.tasks.expire_unconfirmed_requests",
            "schedule": 15 * 60,
        },
        "requeue-stalled-screening": {
            "task": "requests_app.screening.tasks.requeue_stalled_screening",
            "schedule": 5 * 60,
        },
        # Approved requests become jobs (size, age, deadline rules): every minute.
        "batch-approved-requests": {
            "task": "unlearn_jobs.jobs.tasks.batch_approved_requests",
            "schedule": 60,
        },
        # Running jobs whose worker stopped beating go back to the queue; due retries are sent.
        "reap-stale-jobs": {
            "task": "unlearn_jobs.jobs.tasks.reap_stale_jobs",
            "schedule": settings.PALIMPSEST_UNLEARN_REAPER_EVERY_SECONDS,
        },
        # What the database says is in flight but the broker lost (Redis restarted empty) is sent again.
        "reconcile-jobs": {
            "task": "unlearn_jobs.jobs.tasks.reconcile_jobs",
            "schedule": settings.PALIMPSEST_UNLEARN_RECONCILE_EVERY_SECONDS,
        },
        "minimise-closed-requests": {
            "task": "requests_app.tasks.minimise_closed_requests",
            "schedule": 24 * 60 * 60,
        },
        "check-audit-chain": {
            "task": "requests_app.tasks.check_audit_chain",
            "schedule": 60 * 60,
        },
        # Superseded versions holding erased data are deleted after the grace period.
        "purge-superseded-versions": {
            "task": "verification.releases.tasks.purge_superseded_versions",
            "schedule": 60 * 60,
        },
    },
)
# Each app keeps its tasks in its domain packages (requests_app.intake.tasks, ...), not in <app>.tasks.
app.autodiscover_tasks(
    [
        "requests_app",
        "requests_app.intake",
        "requests_app.screening",
        "unlearn_jobs.jobs",
        "verification.gate",
        "verification.releases",
    ]
)
