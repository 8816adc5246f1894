"""Celery tasks of the gate (eval queue): thin — ids in, a service call."""

import socket

from celery import shared_task

from verification.gate import services


@shared_task(queue="eval", acks_late=True)
def run_verification(report_id: int) -> None:
    services.verification_run(report_id=report_id, worker_id=socket.gethostname())


def start_verification(*, version_id: int) -> None:
    """Open (or find) the candidate's run and send it to the eval queue (a second send is a no-op)."""
    report = services.verification_start(version_id=version_id)
    if report is not None:
        run_verification.delay(report.pk)
