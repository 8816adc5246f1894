"""A job on two processes through a real Celery worker (Redis of the test's own, PostgreSQL, the tiny
model): the worker launches the job as a process group (torchrun, two CPU processes on gloo, accelerate's
DDP), relays rank 0's progress to the job, and registers the candidate; a rank killed with SIGKILL fails
the attempt transiently and the next attempt resumes from its checkpoint.

Two processes with grad_accum=1 take two micro-batches per optimiser step, as one process does with
grad_accum=2 (docs/engine.md, "Several GPUs and machines"): that is the reference both tests compare
with. Each launch starts torchrun and two Python processes (~20-40 s on the shared 2-core box)."""

import dataclasses
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from palimpsest.celery import app
from requests_app.audit import Actor
from requests_app.models import Status
from tests.unlearn_jobs.conftest import lock_job_row_once_past, wait_for
from unlearn_jobs.engine import run_unlearning
from unlearn_jobs.engine.rank_main import alive
from unlearn_jobs.jobs import run
from unlearn_jobs.jobs.config import job_dir
from unlearn_jobs.jobs.models import AttemptOutcome, JobMetric, JobStatus, UnlearnJob
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from unlearn_jobs.registry.models import ModelVersion

pytestmark = pytest.mark.slow

ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
# As in tests/unlearn_jobs/engine/test_distributed.py: gloo's all-reduce may sum in another order.
TOLERANCE = dict(rtol=0, atol=1e-6)


def job_row(job_id: int) -> UnlearnJob:
    return UnlearnJob.objects.get(pk=job_id)


def one_process_weights(job: UnlearnJob, folder) -> dict[str, torch.Tensor]:
    """The job's spec on one process with twice the accumulation, uninterrupted, without checkpoints."""
    forget, retain, recorded = run.job_engine_inputs(job)
    assert recorded
    spec = run.engine_spec(job, forget=forget, retain=retain, output_dir=folder, progress=None)
    alone = run_unlearning(dataclasses.replace(spec, grad_accum=2, checkpoint_dir=None))
    return load_file(alone.artifact_dir / "model.safetensors")


def assert_same_weights(version: ModelVersion, expected: dict[str, torch.Tensor], parent: ModelVersion):
    trained = load_file(f"{version.artifact_path}/model.safetensors")
    assert trained.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(trained[name], tensor, **TOLERANCE)
    before = load_file(f"{parent.artifact_path}/model.safetensors")
    assert any(float((trained[k] - before[k]).abs().max()) > 1e-4 for k in before)


def test_a_job_on_two_processes_registers_the_weights_of_one_process(
    workers, job_env, base_version, approve, world, tmp_path
):
    # Given a job made while the setting asks for two processes
    job_env.set(PALIMPSEST_UNLEARN_PROCESSES=2)
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert job.engine_settings["processes"] == 2
    # When a GPU worker runs it
    workers.start("w", queues="gpu", wait=False)
    wait_for(
        lambda: job_row(job.pk).status in ENDED, timeout=300, what="the job", logs=lambda: workers.log("w")
    )
    # Then it succeeded on a process group, rank 0's progress reached the job, and a candidate exists
    finished = job_row(job.pk)
    assert finished.status == JobStatus.SUCCEEDED, workers.log("w")
    assert (finished.step, finished.total_steps) == (8, 8)
    assert list(JobMetric.objects.filter(job=finished).values_list("step", flat=True)) == [2, 4, 6, 8]
    assert list(finished.attempts.values_list("outcome", "resumed_from_step")) == [
        (AttemptOutcome.SUCCEEDED, 0)
    ]
    version = ModelVersion.objects.get(produced_by=finished)
    runtime = version.manifest["engine"]["run"]
    assert (runtime["world_size"], runtime["strategy"]) == (2, "ddp")
    req.refresh_from_db()
    assert req.status == Status.VERIFYING
    assert not (job_dir(job.pk) / "attempt-1" / "group").exists()  # the spec file held item texts
    # And its weights are those of one process taking both processes' micro-batches in each step
    assert_same_weights(version, one_process_weights(finished, tmp_path / "alone"), base_version)


def test_a_killed_rank_fails_the_attempt_and_the_next_resumes_from_the_checkpoint(
    workers, job_env, base_version, approve, world, tmp_path
):
    # Given a two-process job of 12 steps that checkpoints every 4, on a worker that also takes beat tasks
    job_env.set(PALIMPSEST_UNLEARN_PROCESSES=2, PALIMPSEST_UNLEARN_MAX_STEPS=12)
    approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    workers.start("w", wait=False)
    # When rank 1 is killed with -9 after the first checkpoint, while rank 0 waits for the worker to
    # write its next progress report (held up by a lock on the job's row)
    lock = lock_job_row_once_past(job.pk, 4, timeout=240)
    group = job_dir(job.pk) / "attempt-1" / "group"
    os.kill(int((group / "rank-1.pid").read_text()), signal.SIGKILL)
    checkpoints = sorted(p.name for p in (job_dir(job.pk) / "checkpoints").glob("step-*"))
    lock.rollback()
    lock.close()
    assert checkpoints
    last_checkpoint = int(checkpoints[-1].removeprefix("step-"))
    assert 4 <= last_checkpoint < 12

    # Then the attempt fails transiently, the reaper (run as beat would) sends the job again when its
    # backoff has passed, and the next attempt resumes from the checkpoint on two processes
    def ended():
        app.send_task("unlearn_jobs.jobs.tasks.reap_stale_jobs", queue="cpu")
        return job_row(job.pk).status in ENDED

    wait_for(ended, timeout=300, interval=1.0, what="the job", logs=lambda: workers.log("w"))
    finished = job_row(job.pk)
    assert finished.status == JobStatus.SUCCEEDED, workers.log("w")
    attempts = list(finished.attempts.order_by("number"))
    assert [(a.outcome, a.resumed_from_step) for a in attempts] == [
        (AttemptOutcome.RETRY, 0),
        (AttemptOutcome.SUCCEEDED, last_checkpoint),
    ]
    assert attempts[0].error.startswith("RankFailed: the process group exited with code")
    assert "Signal 9 (SIGKILL)" in attempts[0].error  # torchrun's root cause reaches the operator
    version = ModelVersion.objects.get(produced_by=finished)
    assert version.manifest["engine"]["run"]["world_size"] == 2
    assert not list(job_dir(job.pk).glob("attempt-*/group"))
    # And its weights equal an uninterrupted run's
    assert_same_weights(version, one_process_weights(finished, tmp_path / "alone"), base_version)


def test_cancel_stops_a_process_group_at_a_logged_step_and_leaves_no_rank(
    workers, job_env, base_version, approve, world, operator, client
):
    # Given a long two-process job running on a worker
    job_env.set(
        PALIMPSEST_UNLEARN_PROCESSES=2,
        PALIMPSEST_UNLEARN_MAX_STEPS=400,
        PALIMPSEST_UNLEARN_LEARNING_RATE=0.0001,
    )
    req = approve(world.members()[0])
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    workers.start("w", queues="gpu", wait=False)
    wait_for(
        lambda: job_row(job.pk).step >= 2, timeout=240, what="the job to run", logs=lambda: workers.log("w")
    )
    group = job_dir(job.pk) / "attempt-1" / "group"
    ranks = [int((group / f"rank-{rank}.pid").read_text()) for rank in (0, 1)]
    # When an operator cancels it
    client.force_login(operator)
    answer = client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert answer.status_code == 200, answer.json()
    wait_for(lambda: job_row(job.pk).status in ENDED, timeout=120, what="the job to stop")
    # Then it stopped at a logged step as one process does, wrote no model, and no rank is left
    stopped = job_row(job.pk)
    assert stopped.status == JobStatus.CANCELLED, workers.log("w")
    assert 2 <= stopped.step < 400 and stopped.step % 2 == 0
    assert not ModelVersion.objects.filter(produced_by=stopped).exists()
    assert not list(job_dir(job.pk).glob("attempt-*/model")) and not group.exists()
    assert not any(alive(pid) for pid in ranks)
    req.refresh_from_db()
    assert req.status == Status.APPROVED
