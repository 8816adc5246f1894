"""Celery tasks of intake: thin — call a service."""

from celery import shared_task

from requests_app.intake import services


@shared_task(queue="cpu", acks_late=True)
def expire_unconfirmed_requests() -> int:
    """Periodic: requests whose e-mail was never confirmed in time become expired."""
    return len(services.forget_request_expire_unconfirmed())
