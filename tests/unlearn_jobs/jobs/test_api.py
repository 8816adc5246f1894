"""The jobs API: who may read and who may act, readable 4xx for bad input, the detail an operator needs,
and the operations in the OpenAPI schema."""

import pytest
from django.urls import reverse

from requests_app.models import AuditEvent, Status
from unlearn_jobs.jobs.models import JobMetric, JobStatus, UnlearnJob


@pytest.mark.django_db
def test_anonymous_and_officers_cannot_operate(client, job_roles, officer, base_version, approve, world):
    approve(world.members()[0])
    assert client.get(reverse("api-jobs")).status_code == 401
    client.force_login(officer)
    assert client.get(reverse("api-jobs")).status_code == 200  # officers follow their requests
    refused = client.post(reverse("api-jobs"))
    assert refused.status_code == 403 and "ML operators" in refused.json()["error"]
    assert not UnlearnJob.objects.exists()


@pytest.mark.django_db
def test_operator_batches_now_follows_and_cancels(client, operator, base_version, approve, world):
    req = approve(world.members()[0])
    client.force_login(operator)
    created = client.post(reverse("api-jobs"))
    assert created.status_code == 201
    (job,) = created.json()["jobs"]
    assert job == {
        **job,
        "status": "queued",
        "reason": "manual",
        "strategy": "incremental",
        "parent_version": 1,
        "candidate_version": None,
        "requests": 1,
        "forget_items": 6,
        "trained_items": 6,
        "progress": 0.0,
    }
    again = client.post(reverse("api-jobs"))
    assert again.status_code == 400 and "still queued or running" in again.json()["error"]
    JobMetric.objects.create(job_id=job["id"], step=2, attempt=1, figures={"step": 2, "forget/nll": 1.5})
    detail = client.get(reverse("api-job", kwargs={"id": job["id"]})).json()
    assert detail["included_requests"] == [
        {
            "id": str(req.public_id),
            "status": "unlearning",
            "due_at": detail["included_requests"][0]["due_at"],
            "carried": False,
        }
    ]
    assert detail["metric_history"] == [{"step": 2, "attempt": 1, "figures": {"step": 2, "forget/nll": 1.5}}]
    assert "batched 1 request(s) (manual)" in detail["log"][0]["message"]
    listed = client.get(reverse("api-jobs"), {"status": "queued"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == job["id"]

    cancelled = client.post(reverse("api-job-cancel", kwargs={"id": job["id"]}))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == JobStatus.CANCELLED
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert AuditEvent.objects.filter(action="unlearn_job.cancelled", actor_user=operator).exists()
    twice = client.post(reverse("api-job-cancel", kwargs={"id": job["id"]}))
    assert twice.status_code == 400 and "already cancelled" in twice.json()["error"]


@pytest.mark.django_db
def test_bad_input_gets_a_clear_4xx(client, operator, base_version):
    client.force_login(operator)
    bad = client.get(reverse("api-jobs"), {"status": "exploded"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    not_a_page = client.get(reverse("api-jobs"), {"page": "x"})
    assert not_a_page.status_code == 400 and not_a_page.json()["field"] == "page"
    assert client.get(reverse("api-jobs"), {"page": "99"}).json()["page"] == 1  # past the end: the last
    assert client.get(reverse("api-job", kwargs={"id": 404})).status_code == 404
    assert client.get(reverse("api-job", kwargs={"id": 10**30})).status_code == 404
    assert client.post(reverse("api-job-cancel", kwargs={"id": 10**30})).status_code == 404
    nothing = client.post(reverse("api-jobs"))
    assert nothing.status_code == 400 and "No approved request" in nothing.json()["error"]


@pytest.mark.django_db
def test_jobs_operations_are_in_the_openapi_schema(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/jobs/"])
    assert "get" in schema["paths"]["/api/v1/jobs/{id}"]
    assert "post" in schema["paths"]["/api/v1/jobs/{id}/cancel"]
    operations = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert {"jobs_list", "jobs_batch_now", "jobs_retrieve", "jobs_cancel"} <= set(operations)
    assert len(operations) == len(set(operations))
