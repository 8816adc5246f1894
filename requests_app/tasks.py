"""Celery tasks of the intake stage: thin — load ids, call a service."""

from celery import shared_task

from requests_app import screening_service, services


@shared_task(queue="cpu", acks_late=True)
def expire_unconfirmed_requests() -> int:
    """Periodic: requests whose e-mail was never confirmed in time become expired."""
    return len(services.forget_request_expire_unconfirmed())


@shared_task(queue="cpu", acks_late=True)
def screen_request(request_id: int) -> None:
    screening_service.forget_request_screen(request_id=request_id)


@shared_task(queue="cpu", acks_late=True)
def requeue_stalled_screening() -> int:
    """Periodic: the database is the source of truth; re-send screening that was lost or died."""
    stalled = services.forget_requests_stalled_in_screening()
    for request_id in stalled:
        screen_request.delay(request_id)
    return len(stalled)
