"""Celery tasks of the lifecycle core: thin — call a service."""

from celery import shared_task

from requests_app import audit_export, services


@shared_task(queue="cpu", acks_late=True)
def check_audit_chain() -> int:
    """Periodic: verify the chain against its exported head, alert on problems, export the new head."""
    return len(audit_export.audit_check_and_export())


@shared_task(queue="cpu", acks_late=True)
def minimise_closed_requests() -> int:
    """Periodic: names and addresses of requests closed longer than the retention period are emptied."""
    return len(services.forget_requests_minimise_closed())
