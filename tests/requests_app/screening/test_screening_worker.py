"""The screening task on a real Celery worker (Redis broker, PostgreSQL): delivered twice, it screens once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.intake import tasks as intake_tasks
from requests_app.models import AuditEvent, ForgetRequest, Status
from requests_app.screening import tasks as screening_tasks
from requests_app.screening.models import ItemScreening, ScreeningReport
from tests.requests_app.factories import make_request


@pytest.fixture
def worker_env(monkeypatch, tiny_world):
    """Settings reach the worker process through its environment (read when it imports settings)."""
    monkeypatch.setenv("PALIMPSEST_DEMO_ROOT", str(tiny_world.root))
    monkeypatch.setenv("PALIMPSEST_BASE_MODEL", str(tiny_world.model_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_screens_once(worker_env, celery_worker_process, world_view):
    # Given a verified request, and a stale unconfirmed one that the sentinel task will expire
    person = world_view.members[9]
    req = make_request(
        status=Status.VERIFIED,
        texts=tuple(person.records[:5]),
        requester_name=person.requester.name,
        requester_email=person.requester.email,
    )
    stale = make_request(status=Status.SUBMITTED)
    ForgetRequest.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(days=3))
    # When the screening task is delivered twice, followed by a sentinel on the same queue
    screening_tasks.screen_request.delay(req.pk)
    screening_tasks.screen_request.delay(req.pk)
    intake_tasks.expire_unconfirmed_requests.delay()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ForgetRequest.objects.get(pk=stale.pk).status == Status.EXPIRED:
            break  # the solo worker runs tasks in order: both deliveries are done
        time.sleep(0.3)
    # Then there is one report, one row per item, one screening audit event, and the request is in review
    assert ForgetRequest.objects.get(pk=stale.pk).status == Status.EXPIRED
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.IN_REVIEW
    assert ScreeningReport.objects.filter(request=req).count() == 1
    assert ItemScreening.objects.filter(item__request=req).count() == 5
    assert AuditEvent.objects.filter(action="request.screened", object_id=str(req.pk)).count() == 1
    report = ScreeningReport.objects.get(request=req)
    assert report.coreset_item_ids and report.model_label == "base"
