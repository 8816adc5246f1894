"""Celery tasks of the jobs domain: thin — ids in, one service call.

run_unlearn_job goes to the gpu queue (one task at a time per GPU worker, acknowledged late); the beat
tasks to the cpu queue. Retries are not Celery's: a transient failure queues the job again in the
database with a backoff and the reaper sends it when due, so a retry survives the broker's loss too.
"""

import os

from celery import shared_task
from django.conf import settings

from requests_app.audit import Actor
from unlearn_jobs.jobs import recovery, run, services
from unlearn_jobs.jobs.dispatch import GPU_QUEUE, RUN_TASK


@shared_task(name=RUN_TASK, bind=True, queue=GPU_QUEUE, acks_late=True, reject_on_worker_lost=True)
def run_unlearn_job(self, job_id: int) -> str:
    return run.unlearn_job_run(job_id=job_id, worker_id=f"{self.request.hostname}:{os.getpid()}")


@shared_task(queue="cpu", acks_late=True)
def batch_approved_requests() -> int:
    if not settings.PALIMPSEST_BATCH_AUTO:
        return 0
    return len(services.unlearn_jobs_batch(actor=Actor.system()))


@shared_task(queue="cpu", acks_late=True)
def reap_stale_jobs() -> dict:
    return recovery.unlearn_jobs_reap()


@shared_task(queue="cpu", acks_late=True)
def reconcile_jobs() -> dict:
    return recovery.unlearn_jobs_reconcile()
