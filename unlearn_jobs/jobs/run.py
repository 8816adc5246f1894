"""The GPU worker's use case: claim a job, build the engine's spec from its rows, train with checkpoints
while a heartbeat thread and the progress callback keep the database current, and record the outcome.

Errors worth another attempt (the database, the disk or the broker went away, the GPU ran out of
memory, the parent model is not reachable yet) queue the job again with a backoff; anything else would
fail again and fails the job for good. Either way the job's requests are never lost.
"""

import logging
import os
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import torch
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from redis.exceptions import RedisError

from unlearn_jobs.engine import StopRules, TextItem, UnlearnResult, UnlearnSpec, run_unlearning
from unlearn_jobs.engine.launch import RankFailed, clean_work_dir, launch_unlearning
from unlearn_jobs.jobs import config, inputs, lifecycle
from unlearn_jobs.jobs.models import UnlearnJob

logger = logging.getLogger(__name__)


class TransientJobError(Exception):
    """Worth another attempt after a backoff."""


TRANSIENT_ERRORS = (
    TransientJobError,
    OperationalError,
    InterfaceError,
    OSError,
    RedisError,
    torch.OutOfMemoryError,
    RankFailed,  # a rank of the job's process group died: the next attempt resumes from the checkpoint
)


class Heartbeat(threading.Thread):
    """Beats between the engine's logs (model loading, reference pass, long steps) on its own database
    connection; notices when the job was taken away from this attempt."""

    def __init__(self, *, job_id: int, attempt: int, interval: float):
        super().__init__(name=f"heartbeat-job-{job_id}", daemon=True)
        self.job_id, self.attempt, self.interval = job_id, attempt, interval
        self.lost = False
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    if not lifecycle.unlearn_job_heartbeat(job_id=self.job_id, attempt=self.attempt):
                        self.lost = True
                        return
                except DatabaseError as error:  # the database blinked: the next beat may get through
                    logger.warning("job %s: heartbeat failed (%s)", self.job_id, type(error).__name__)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=self.interval + 5)


class ProgressReporter:
    """The engine's progress callback: writes each logged step, returns False to stop the run when the
    job was cancelled or is no longer this attempt's (`lost`)."""

    def __init__(self, *, job_id: int, attempt: int, heartbeat: Heartbeat):
        self.job_id, self.attempt, self.heartbeat = job_id, attempt, heartbeat
        self.lost = False
        self._anchor: tuple[int, float] | None = None

    def _eta(self, step: int, total: int):
        now = time.monotonic()
        if self._anchor is None or step <= self._anchor[0]:
            self._anchor = (step, now)
            return None
        seconds_per_step = (now - self._anchor[1]) / (step - self._anchor[0])
        return timezone.now() + timedelta(seconds=seconds_per_step * (total - step))

    def __call__(self, step: int, total: int, figures: dict) -> bool:
        if self.heartbeat.lost:
            self.lost = True
            return False
        verdict = lifecycle.unlearn_job_progress(
            job_id=self.job_id,
            attempt=self.attempt,
            step=step,
            total=total,
            figures=figures,
            eta_at=self._eta(step, total),
        )
        self.lost = verdict == "lost"
        return verdict == "continue"


def engine_spec(
    job: UnlearnJob, *, forget: list[TextItem], retain: list[TextItem], output_dir: Path, progress
) -> UnlearnSpec:
    """The job's frozen settings as the engine's spec: every attempt builds the same one."""
    s = job.engine_settings
    rise = s["max_retain_nll_rise"] if retain else None
    return UnlearnSpec(
        model_dir=Path(job.parent_version.artifact_path),
        forget_items=forget,
        retain_items=retain,
        output_dir=output_dir,
        method=s["method"],
        method_config=dict(s["method_config"]),
        mode=s["mode"],
        learning_rate=s["learning_rate"],
        max_steps=s["max_steps"],
        epochs=s["epochs"],
        min_steps=s.get("min_steps", 0),  # jobs made before the setting have none
        forget_batch_size=s["forget_batch_size"],
        retain_batch_size=s["retain_batch_size"],
        max_length=s["max_length"],
        seed=s["seed"],
        device=s["device"],
        precision=s["precision"],
        checkpoint_dir=config.job_dir(job.pk) / "checkpoints",
        checkpoint_every=s["checkpoint_every"],
        log_every=s["log_every"],
        progress=progress,
        stop=StopRules(max_retain_nll_rise=rise),
        parent_model_sha256=job.parent_version.artifact_sha256,
    )


def job_engine_inputs(job: UnlearnJob) -> tuple[list[TextItem], list[TextItem], bool]:
    """(trained items, retain items, whether the retain set is the one an earlier attempt recorded)."""
    corpus = inputs.load_corpus(job.engine_settings["retain_corpus"])
    forget = inputs.trained_items(job, corpus)
    if not forget:
        return [], [], True
    retain, recorded = inputs.retain_items(job, forget, corpus)
    return forget, retain, recorded


def job_processes(job: UnlearnJob) -> int:
    """How many processes this worker runs the job on: its frozen setting, `auto` being this worker's
    CUDA devices (1 without CUDA). Jobs made before the setting existed run on one."""
    wanted, devices = job.engine_settings.get("processes", 1), torch.cuda.device_count()
    processes = max(1, devices) if wanted == "auto" else int(wanted)
    if processes > 1 and job.engine_settings["device"] != "cpu" and 0 < devices < processes:
        # another worker (or this one, once its GPUs are back) may have enough
        raise TransientJobError(f"the job asks for {processes} processes; this worker sees {devices} GPUs")
    return processes


def _run_engine(job: UnlearnJob, attempt: int, spec: UnlearnSpec) -> UnlearnResult:
    """One process trains here. More train as a process group this worker launches and waits for: rank
    0's progress reaches `spec.progress` in this thread (progress, heartbeat and cancel work as with one
    process), and a lost rank raises RankFailed. The group checkpoints like one process, and a checkpoint
    is resumed by the same process count only (the engine's runtime check)."""
    processes = job_processes(job)
    if processes == 1:
        return run_unlearning(spec)
    for stale in config.job_dir(job.pk).glob("attempt-*/group"):
        clean_work_dir(stale)  # left by an attempt whose worker was killed: its spec file holds item texts
    work_dir = config.job_dir(job.pk) / f"attempt-{attempt}" / "group"
    try:
        return launch_unlearning(
            spec,
            nprocs=processes,
            work_dir=work_dir,
            threads_per_process=max(1, torch.get_num_threads() // processes),
        )
    finally:
        clean_work_dir(work_dir)


def _copy_model(source: Path, target: Path) -> None:
    """Nothing to train (no item of the batch is held by the model): the candidate is the parent's
    weights, linked where the file system allows."""
    tmp = target.parent / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)

    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, tmp, copy_function=link_or_copy)
    os.replace(tmp, target)


def _train(job: UnlearnJob, attempt: int, heartbeat: Heartbeat) -> str:
    parent_dir = Path(job.parent_version.artifact_path)
    if not (parent_dir / "config.json").is_file():
        raise TransientJobError(
            f"the parent model v{job.parent_version.number} is not reachable at {parent_dir}"
        )
    output_dir = config.job_dir(job.pk) / f"attempt-{attempt}" / "model"
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    forget, retain, recorded = job_engine_inputs(job)
    if not forget:
        _copy_model(parent_dir, output_dir)
        version = lifecycle.unlearn_job_complete(
            job_id=job.pk, attempt=attempt, artifact_dir=output_dir, figures={}, steps_done=0, resumed_from=0
        )
        return "succeeded" if version is not None else "lost"
    checkpoints = config.job_dir(job.pk) / "checkpoints"
    if not recorded:  # a retain set of its own: checkpoints of an earlier set belong to another spec
        shutil.rmtree(checkpoints, ignore_errors=True)
    lifecycle.unlearn_job_record_inputs(
        job_id=job.pk,
        attempt=attempt,
        retain_hashes=[inputs.text_key(item.text) for item in retain],
        checkpoint_path=str(checkpoints),
        recorded=recorded,
    )
    reporter = ProgressReporter(job_id=job.pk, attempt=attempt, heartbeat=heartbeat)
    result = _run_engine(
        job, attempt, engine_spec(job, forget=forget, retain=retain, output_dir=output_dir, progress=reporter)
    )
    if result.stop_reason == "cancelled":
        shutil.rmtree(output_dir, ignore_errors=True)
        if reporter.lost:
            return "lost"
        lifecycle.unlearn_job_stopped_cancelled(job_id=job.pk, attempt=attempt)
        return "cancelled"
    if not result.ok:
        raise RuntimeError(
            f"collapse guard: the retain NLL rose more than {job.engine_settings['max_retain_nll_rise']} over the "
            f"parent's by step {result.steps_done}; no model was written"
        )
    version = lifecycle.unlearn_job_complete(
        job_id=job.pk,
        attempt=attempt,
        artifact_dir=result.artifact_dir,
        figures=result.final_figures,
        steps_done=result.steps_done,
        resumed_from=result.resumed_from_step,
    )
    if version is None:
        shutil.rmtree(output_dir, ignore_errors=True)
        return "lost"
    lifecycle.remove_attempt_artifacts(job, keep=output_dir)
    return "succeeded"


def unlearn_job_run(*, job_id: int, worker_id: str) -> str:
    """Run the job if this worker can claim it. Returns what happened: skipped (not claimable: a
    duplicate delivery, or backing off), succeeded, cancelled, retry, failed, or lost (another attempt
    took over while this one ran)."""
    attempt = lifecycle.unlearn_job_claim(job_id=job_id, worker_id=worker_id)
    if attempt is None:
        return "skipped"
    heartbeat = Heartbeat(
        job_id=job_id, attempt=attempt.number, interval=settings.PALIMPSEST_UNLEARN_HEARTBEAT_SECONDS
    )
    heartbeat.start()
    try:
        job = UnlearnJob.objects.select_related("parent_version").get(pk=job_id)
        return _train(job, attempt.number, heartbeat)
    except TRANSIENT_ERRORS as error:
        logger.warning("job %s attempt %s: transient %s", job_id, attempt.number, type(error).__name__)
        lifecycle.unlearn_job_attempt_failed(
            job_id=job_id, attempt=attempt.number, error=lifecycle.describe_error(error), transient=True
        )
        return "retry"
    except Exception as error:  # it would fail the same way again
        logger.error("job %s attempt %s: failed for good (%s)", job_id, attempt.number, type(error).__name__)
        lifecycle.unlearn_job_attempt_failed(
            job_id=job_id, attempt=attempt.number, error=lifecycle.describe_error(error), transient=False
        )
        return "failed"
    finally:
        heartbeat.stop()
