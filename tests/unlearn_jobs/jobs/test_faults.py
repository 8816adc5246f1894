"""Faults on real components: Celery worker processes on a Redis of the test's own, PostgreSQL, the tiny
model. A worker killed with -9 mid-job, Redis restarted empty mid-pipeline, one task delivered twice,
a job that fails for good, an operator's cancel."""

import dataclasses
from datetime import timedelta

import pytest
import torch
from safetensors.torch import load_file

from palimpsest.celery import app
from requests_app.audit import Actor
from requests_app.models import AuditEvent, ForgetRequest, Status
from tests.unlearn_jobs.conftest import lock_job_row_once_past, wait_for
from unlearn_jobs.engine import run_unlearning
from unlearn_jobs.jobs import dispatch, run
from unlearn_jobs.jobs.config import job_dir
from unlearn_jobs.jobs.models import AttemptOutcome, JobStatus, UnlearnJob
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from unlearn_jobs.registry.models import ModelVersion

pytestmark = pytest.mark.slow


def job_row(job_id: int) -> UnlearnJob:
    return UnlearnJob.objects.get(pk=job_id)


def send(task: str, *args) -> None:
    app.send_task(task, args=list(args), queue="gpu" if task == dispatch.RUN_TASK else "cpu")


def request_actions(req) -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(object_type="requests_app.forgetrequest", object_id=str(req.pk))
    return list(events.order_by("seq").values_list("action", "data__to"))


def test_kill_9_mid_job_resumes_from_the_checkpoint_to_the_same_weights(
    workers, job_env, base_version, approve, world, tmp_path
):
    # Given a 16-step job that checkpoints every 4 steps, on worker A
    job_env.set(PALIMPSEST_UNLEARN_MAX_STEPS=16)
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    workers.start("a", queues="gpu", wait=False)
    # When A is killed with -9 after its first checkpoint (step 4), as it tries to report a later step
    lock = lock_job_row_once_past(job.pk, 4, timeout=120)
    workers.kill9("a")
    lock.rollback()
    lock.close()
    killed = job_row(job.pk)
    checkpoints = sorted(p.name for p in (job_dir(job.pk) / "checkpoints").glob("step-*"))
    assert killed.status == JobStatus.RUNNING and 4 <= killed.step < 16 and checkpoints
    last_checkpoint = int(checkpoints[-1].removeprefix("step-"))
    # And worker B comes up, and the reaper runs as beat would
    workers.start("b")
    done = wait_for(
        lambda: (
            send("unlearn_jobs.jobs.tasks.reap_stale_jobs") or job_row(job.pk).status == JobStatus.SUCCEEDED
        ),
        timeout=180,
        interval=1.0,
        what="the job to finish on worker B",
        logs=lambda: workers.log("b"),
    )
    assert done
    # Then B resumed from A's last checkpoint and the job made one candidate
    finished = job_row(job.pk)
    attempts = list(finished.attempts.order_by("number").values_list("outcome", "resumed_from_step"))
    assert attempts == [(AttemptOutcome.LOST, 0), (AttemptOutcome.SUCCEEDED, last_checkpoint)]
    version = ModelVersion.objects.get(produced_by=finished)
    req.refresh_from_db()
    assert req.status == Status.VERIFYING
    # And its weights equal an uninterrupted run of the same spec, bit for bit
    forget, retain, recorded = run.job_engine_inputs(finished)
    assert recorded
    spec = run.engine_spec(
        finished, forget=forget, retain=retain, output_dir=tmp_path / "straight", progress=None
    )
    straight = run_unlearning(dataclasses.replace(spec, checkpoint_dir=None))
    resumed, reference = (
        load_file(f"{version.artifact_path}/model.safetensors"),
        load_file(straight.artifact_dir / "model.safetensors"),
    )
    assert resumed.keys() == reference.keys()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
    assert any(
        not torch.equal(reference[k], v)
        for k, v in load_file(f"{base_version.artifact_path}/model.safetensors").items()
    )


def test_redis_restarted_empty_mid_pipeline_loses_no_job_and_no_request(
    workers, redis_broker, job_env, base_version, approve, world
):
    # Given two jobs (one trained item cap makes one job per request) and an old request left waiting
    job_env.set(
        PALIMPSEST_BATCH_MAX_ACTIVE_JOBS=2, PALIMPSEST_BATCH_MAX_ITEMS=6, PALIMPSEST_UNLEARN_MAX_STEPS=12
    )
    first, second, third = world.members()[:3]
    reqs = [approve(first), approve(second)]
    jobs = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert len(jobs) == 2
    reqs.append(approve(third, approved_ago=timedelta(days=4)))
    assert dispatch.queued_job_ids(max_unacked_age=60) == {j.pk for j in jobs}
    # And a worker busy with the first job
    worker = workers.start("w", queues="cpu,gpu", wait=False)  # a busy solo worker answers no ping
    wait_for(
        lambda: job_row(jobs[0].pk).step >= 2,
        timeout=120,
        what="the first job to run",
        logs=lambda: workers.log("w"),
    )
    # When Redis restarts empty under it
    redis_broker.restart_empty()
    assert dispatch.queued_job_ids(max_unacked_age=60) == set()

    # Then the reconciler, run as beat would, brings back every job and request
    def all_verifying():
        send("unlearn_jobs.jobs.tasks.reconcile_jobs")
        send("unlearn_jobs.jobs.tasks.reap_stale_jobs")
        return all(ForgetRequest.objects.get(pk=r.pk).status == Status.VERIFYING for r in reqs)

    wait_for(
        all_verifying,
        timeout=240,
        interval=2.0,
        what="every request to reach verifying",
        logs=lambda: workers.log("w"),
    )
    assert worker.poll() is None
    finished = UnlearnJob.objects.order_by("pk")
    assert [j.status for j in finished] == [JobStatus.SUCCEEDED] * 3
    assert [j.attempt for j in finished] == [1, 1, 1]  # resent, not run twice
    assert finished[1].log_lines.filter(message__startswith="sent again").exists()
    assert ModelVersion.objects.filter(produced_by__isnull=False).count() == 3


def test_one_task_delivered_twice_runs_once_and_makes_one_version(
    workers, job_env, base_version, approve, world
):
    # Given two workers, and one job whose message is delivered twice
    req = approve(world.members()[0])
    workers.start("one", queues="gpu")
    workers.start("two", queues="gpu")
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    send(dispatch.RUN_TASK, job.pk)
    wait_for(lambda: job_row(job.pk).status == JobStatus.SUCCEEDED, timeout=180, what="the job to finish")
    # And once more after it finished
    send(dispatch.RUN_TASK, job.pk)
    wait_for(
        lambda: dispatch.queued_job_ids(max_unacked_age=3600) == set(), timeout=60, what="the broker to drain"
    )
    # Then there was one run, one version, one set of transitions
    assert job_row(job.pk).attempts.count() == 1
    assert ModelVersion.objects.filter(produced_by=job).count() == 1 and ModelVersion.objects.count() == 2
    assert [a for a, _ in request_actions(req)].count("unlearn_job.succeeded") == 1
    skipped = workers.log("one") + workers.log("two")
    assert skipped.count("'skipped'") == 2


def test_a_job_that_fails_for_good_returns_its_requests_and_they_succeed_later(
    workers, job_env, base_version, approve, world, tmp_path
):
    # Given a parent model that is not reachable (a storage volume that did not mount), two attempts
    job_env.set(PALIMPSEST_UNLEARN_MAX_ATTEMPTS=2)
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    real_path = base_version.artifact_path
    ModelVersion.objects.filter(pk=base_version.pk).update(artifact_path=str(tmp_path / "not-mounted"))
    workers.start("w", wait=False)
    # When the worker tries, backs off, is sent again by the reaper, and tries again
    wait_for(
        lambda: send("unlearn_jobs.jobs.tasks.reap_stale_jobs") or job_row(job.pk).status == JobStatus.FAILED,
        timeout=120,
        interval=1.0,
        what="the job to fail",
        logs=lambda: workers.log("w"),
    )
    # Then the job failed for good and its request is approved again, with audit events
    failed = job_row(job.pk)
    assert list(failed.attempts.values_list("outcome", flat=True)) == [
        AttemptOutcome.RETRY,
        AttemptOutcome.FAILED,
    ]
    assert "gave up after 2 attempts" in failed.error and "not reachable" in failed.error
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert request_actions(req)[-2:] == [
        ("unlearn_job.batched", "unlearning"),
        ("unlearn_job.failed", "approved"),
    ]
    job_actions = set(
        AuditEvent.objects.filter(object_id=str(job.pk), object_type="unlearn_jobs.unlearnjob").values_list(
            "action", flat=True
        )
    )
    assert {"unlearn_job.requeued", "unlearn_job.failed"} <= job_actions
    # When the volume is back, the request goes into the next job and succeeds
    ModelVersion.objects.filter(pk=base_version.pk).update(artifact_path=real_path)
    (again,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    wait_for(lambda: job_row(again.pk).status == JobStatus.SUCCEEDED, timeout=120, what="the next job")
    req.refresh_from_db()
    assert req.status == Status.VERIFYING


def test_cancel_stops_a_running_job_at_a_step_boundary(
    workers, job_env, base_version, approve, world, operator, client
):
    # Given a long job running on a worker
    job_env.set(PALIMPSEST_UNLEARN_MAX_STEPS=400, PALIMPSEST_UNLEARN_LEARNING_RATE=0.0001)
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    workers.start("w", queues="gpu", wait=False)  # a busy solo worker answers no ping
    wait_for(
        lambda: job_row(job.pk).step >= 2, timeout=120, what="the job to run", logs=lambda: workers.log("w")
    )
    # When an operator cancels it
    client.force_login(operator)
    answer = client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert answer.status_code == 200 and answer.json()["cancel_requested"] is True, answer.json()
    wait_for(lambda: job_row(job.pk).status == JobStatus.CANCELLED, timeout=60, what="the job to stop")
    # Then it stopped at a logged step, wrote no model, and its request is approved again
    stopped = job_row(job.pk)
    assert 2 <= stopped.step < 400 and stopped.step % 2 == 0
    assert not ModelVersion.objects.filter(produced_by=stopped).exists()
    assert not list(job_dir(job.pk).glob("attempt-*/model"))
    assert stopped.attempts.get().outcome == AttemptOutcome.CANCELLED
    req.refresh_from_db()
    assert req.status == Status.APPROVED and request_actions(req)[-1] == ("unlearn_job.cancelled", "approved")
    assert AuditEvent.objects.filter(action="unlearn_job.cancel_requested", actor_user=operator).exists()
