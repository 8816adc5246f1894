"""Batching on the database: approved requests become a job by the rules, move to `unlearning` with audit
events, carry their whole forget set, and the message reaches the real broker; strategy and refusals."""

from datetime import timedelta

import pytest
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_hex
from requests_app.audit import Actor
from requests_app.models import AuditEvent, ForgetItem, Status
from unlearn_jobs.jobs import dispatch
from unlearn_jobs.jobs.models import JobItem, JobRequest, JobStatus, UnlearnJob
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from unlearn_jobs.registry.models import ModelVersion, Strategy, VersionStatus


def _transitions(req):
    return list(
        AuditEvent.objects.filter(object_type="requests_app.forgetrequest", object_id=str(req.pk))
        .order_by("seq")
        .values_list("action", "data__to")
    )


@pytest.mark.django_db
def test_beat_batcher_waits_then_batches_by_age_with_the_whole_forget_set(
    redis_broker, base_version, approve, world, django_capture_on_commit_callbacks
):
    # Given two young approved requests, one training on 4 of its 6 items
    first, second = world.members()[:2]
    young = approve(first, trained=4)
    older = approve(second, approved_ago=timedelta(days=2))
    assert unlearn_jobs_batch(actor=Actor.system()) == []
    # When the clock passes three days after the older one's approval
    later = timezone.now() + timedelta(days=1, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        jobs = unlearn_jobs_batch(actor=Actor.system(), now=later)
    # Then one job takes both, from production, by age, and both requests are unlearning
    assert len(jobs) == 1
    job = jobs[0]
    assert (job.status, job.reason, job.strategy, job.parent_version_id) == (
        "queued",
        "age",
        "incremental",
        base_version.pk,
    )
    assert (job.forget_items, job.trained_items, job.method, job.mode) == (12, 10, "npo", "lora")
    assert set(
        JobItem.objects.filter(job=job, trained=False).values_list("approved_item__request", flat=True)
    ) == {young.pk}
    for req in (young, older):
        req.refresh_from_db()
        assert req.status == Status.UNLEARNING
        assert _transitions(req)[-1] == ("unlearn_job.batched", "unlearning")
    created = AuditEvent.objects.get(action="unlearn_job.created", object_id=str(job.pk))
    assert created.data["requests"] == sorted([young.pk, older.pk]) and "text" not in str(created.data)
    # And its run message, and only it, sits in the real broker's gpu queue
    assert dispatch.queued_job_ids(max_unacked_age=60) == {job.pk}
    assert job.engine_settings["max_steps"] == 8 and job.engine_settings["device"] == "cpu"


@pytest.mark.django_db
def test_batch_now_refuses_what_cannot_be_done_and_respects_the_active_job(base_version, approve, world):
    with pytest.raises(ApplicationError, match="No approved request"):
        unlearn_jobs_batch(actor=Actor.system(), manual=True)
    approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert job.reason == "manual"
    approve(world.members()[1])
    with pytest.raises(ApplicationError, match=f"Job {job.pk} is still queued or running"):
        unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert unlearn_jobs_batch(actor=Actor.system(), now=timezone.now() + timedelta(days=30)) == []


@pytest.mark.django_db
def test_bad_engine_settings_are_refused_before_any_request_moves(base_version, approve, world, job_env):
    req = approve(world.members()[0])
    job_env.set(PALIMPSEST_UNLEARN_METHOD="forget-everything")
    with pytest.raises(ApplicationError, match="PALIMPSEST_UNLEARN_METHOD"):
        unlearn_jobs_batch(actor=Actor.system(), manual=True)
    job_env.set(PALIMPSEST_UNLEARN_METHOD="npo", PALIMPSEST_UNLEARN_METHOD_CONFIG='{"beta": -1}')
    with pytest.raises(ApplicationError, match="does not fit npo"):
        unlearn_jobs_batch(actor=Actor.system(), manual=True)
    job_env.set(PALIMPSEST_UNLEARN_METHOD_CONFIG="{}", PALIMPSEST_UNLEARN_PROCESSES="two")
    with pytest.raises(ApplicationError, match="PALIMPSEST_UNLEARN_PROCESSES must be auto or a whole number"):
        unlearn_jobs_batch(actor=Actor.system(), manual=True)
    req.refresh_from_db()
    assert req.status == Status.APPROVED and not UnlearnJob.objects.exists()


def _production_after_increments(base_version, erased_request, *, spent: float, depth: int) -> ModelVersion:
    ModelVersion.objects.filter(pk=base_version.pk).update(status=VersionStatus.SUPERSEDED)
    version = ModelVersion.objects.create(
        number=2,
        parent=base_version,
        strategy=Strategy.INCREMENTAL,
        status=VersionStatus.PUBLISHED,
        artifact_path=base_version.artifact_path,
        artifact_sha256=base_version.artifact_sha256,
        utility_spent=spent,
        incremental_depth=depth,
    )
    version.included_requests.set([erased_request.pk])
    base_version.aliases.update(version=version)
    return version


@pytest.mark.django_db
def test_over_budget_rebases_from_the_base_on_every_erased_forget_set(base_version, approve, world):
    # Given a production version that spent its utility budget, made from a request whose texts are erased
    erased, new = world.members()[:2]
    done = approve(erased, status=Status.COMPLETED)
    ForgetItem.objects.filter(request=done).update(text="", text_deleted_at=timezone.now())
    _production_after_increments(base_version, done, spent=0.45, depth=3)
    approve(new)
    # When an operator batches now
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    # Then the job starts from the base, trains on both forget sets and carries the erased request
    assert (job.strategy, job.parent_version_id) == ("rebase", base_version.pk)
    assert "utility budget" in job.strategy_reason
    assert set(JobRequest.objects.filter(job=job, carried=True).values_list("request", flat=True)) == {
        done.pk
    }
    assert job.trained_items == 12
    done.refresh_from_db()
    assert done.status == Status.COMPLETED  # a carried request does not move


@pytest.mark.django_db
def test_rebase_is_impossible_when_an_erased_text_cannot_be_recovered(base_version, approve, world):
    erased, new = world.members()[:2]
    done = approve(erased, status=Status.COMPLETED)
    item = done.items.first()
    ForgetItem.objects.filter(pk=item.pk).update(text="", text_deleted_at=timezone.now())
    done.approved_items.filter(item=item).update(sha256=sha256_hex("a text the corpus never held"))
    _production_after_increments(base_version, done, spent=0.45, depth=3)
    approve(new)
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert (
        job.strategy == "incremental" and "rebase impossible: 1 erased trained item(s)" in job.strategy_reason
    )
    assert job.parent_version.number == 2 and not JobRequest.objects.filter(job=job, carried=True).exists()


@pytest.mark.django_db
def test_requests_that_failed_too_often_wait_for_an_operator(base_version, approve, world, job_env):
    job_env.set(PALIMPSEST_BATCH_MAX_REQUEST_FAILURES=1)
    req = approve(world.members()[0], approved_ago=timedelta(days=5))
    failed = UnlearnJob.objects.create(
        status=JobStatus.FAILED,
        max_attempts=1,
        method="npo",
        mode="lora",
        strategy="incremental",
        reason="age",
        parent_version=base_version,
    )
    JobRequest.objects.create(job=failed, request=req)
    assert unlearn_jobs_batch(actor=Actor.system()) == []
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert job.reason == "age"
