"""Fixtures of the jobs and registry tests: job roles, a throwaway Redis that a test may restart empty,
and real Celery worker processes that a test may kill -9 (the job settings, the base version and
approved requests are in tests/fixtures/jobs.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from palimpsest.celery import app
from tests.conftest import ROOT
from tests.fixtures.jobs import JobEnvironment, RedisServer


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Real `celery worker` processes (solo pool, one task at a time) on the test's broker and database."""

    def __init__(self, broker: RedisServer, job_env: JobEnvironment, folder: Path):
        self.broker, self.job_env, self.folder = broker, job_env, folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = []

    def start(self, name: str, *, queues: str = "cpu,gpu", wait: bool = True) -> subprocess.Popen:
        """Start a worker; with `wait`, return once it answers a ping (it may take a task before that)."""
        env = {
            **os.environ,
            **self.job_env.env,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.broker.url,
            "CELERY_BROKER_READ_URL": self.broker.url,
            "CELERY_BROKER_WRITE_URL": self.broker.url,
            "DJANGO_SETTINGS_MODULE": "palimpsest.settings",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        hostname = f"{name}-{os.getpid()}"
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed in stop_all
        self.logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "palimpsest.celery",
                "worker",
                "-Q",
                queues,
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"{hostname}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        if not wait:
            return process
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited early:\n{self.log(name)}")
            replies = app.control.ping(timeout=1.0)
            if any(host.startswith(f"{hostname}@") for reply in replies for host in reply):
                return process
        raise RuntimeError(f"worker {name} did not answer a ping within 90 s:\n{self.log(name)}")

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def kill9(self, name: str) -> None:
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        for log in self.logs:
            log.close()


@pytest.fixture
def workers(transactional_db, redis_broker, job_env, tmp_path):
    pool = Workers(redis_broker, job_env, tmp_path)
    yield pool
    pool.stop_all()


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition", logs=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f"\n{logs()}" if logs else ""))


def lock_job_row_once_past(job_id: int, step: int, timeout: float):
    """A second connection that holds the job's row lock as soon as the job has logged `step`: the
    worker then blocks at its next progress write, right after a durable checkpoint."""
    db = connection.settings_dict
    lock = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432
    )
    deadline = time.monotonic() + timeout
    with lock.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT step FROM unlearn_jobs_unlearnjob WHERE id = %s FOR UPDATE", [job_id])
            if cursor.fetchone()[0] >= step:
                return lock
            lock.rollback()
            time.sleep(0.02)
    lock.close()
    raise AssertionError(f"job {job_id} never logged step {step}")
