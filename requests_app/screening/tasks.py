"""Celery tasks of screening: thin — load ids, call a service."""

from celery import shared_task

from requests_app.screening import selectors, services


@shared_task(queue="cpu", acks_late=True)
def screen_request(request_id: int) -> None:
    services.forget_request_screen(request_id=request_id)


@shared_task(queue="cpu", acks_late=True)
def requeue_stalled_screening() -> int:
    """Periodic: the database is the source of truth; re-send screening that was lost or died."""
    stalled = selectors.forget_requests_stalled_in_screening()
    for request_id in stalled:
        screen_request.delay(request_id)
    return len(stalled)
