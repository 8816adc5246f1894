"""Fixtures of the jobs and registry tests: settings for tiny jobs (shared with worker processes through
their environment), approved requests made of the tiny world's people, a throwaway Redis that a test may
restart empty, and real Celery worker processes that a test may kill -9."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from palimpsest.celery import app
from requests_app.models import ForgetRequest, Status
from requests_app.review.models import ApprovedItem
from tests.conftest import ensure_role
from tests.requests_app.factories import make_request
from unlearn_jobs.registry.models import ModelVersion
from unlearn_jobs.registry.services import model_version_register_base

# Small and fast: a few optimiser steps on the tiny model, checkpoints and logs close together, a
# heartbeat every second and a worker presumed dead after three silent seconds.
TINY_JOB_SETTINGS = {
    "PALIMPSEST_UNLEARN_METHOD": "npo",
    "PALIMPSEST_UNLEARN_MODE": "lora",
    "PALIMPSEST_UNLEARN_LEARNING_RATE": "0.001",
    "PALIMPSEST_UNLEARN_MAX_STEPS": "8",
    "PALIMPSEST_UNLEARN_FORGET_BATCH_SIZE": "4",
    "PALIMPSEST_UNLEARN_RETAIN_BATCH_SIZE": "4",
    "PALIMPSEST_UNLEARN_MAX_LENGTH": "96",
    "PALIMPSEST_UNLEARN_DEVICE": "cpu",
    "PALIMPSEST_UNLEARN_CHECKPOINT_EVERY": "4",
    "PALIMPSEST_UNLEARN_LOG_EVERY": "2",
    "PALIMPSEST_UNLEARN_RETAIN_PER_ITEM": "2",
    "PALIMPSEST_UNLEARN_HEARTBEAT_SECONDS": "1",
    "PALIMPSEST_UNLEARN_STALE_AFTER_SECONDS": "3",
    "PALIMPSEST_UNLEARN_RESEND_AFTER_SECONDS": "1",
    "PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS": "0",
    "PALIMPSEST_BATCH_MIN_ITEMS": "1000",
    "PALIMPSEST_BATCH_MIN_TOKENS": "1000000",
}


ROOT = Path(__file__).resolve().parents[2]


def _typed(name: str, raw: str):
    current = getattr(django_settings, name)
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, dict):
        return json.loads(raw)
    return raw


@dataclass
class JobEnvironment:
    """The same PALIMPSEST_* values in this process's settings and in the workers' environment."""

    settings: object
    values: dict[str, str]

    def set(self, **values) -> None:
        for name, raw in values.items():
            self.values[name] = str(raw)
            setattr(self.settings, name, _typed(name, str(raw)))

    @property
    def env(self) -> dict[str, str]:
        return dict(self.values)


@pytest.fixture
def job_env(settings, tiny_world, tmp_path) -> JobEnvironment:
    environment = JobEnvironment(settings, {})
    environment.set(
        PALIMPSEST_STORAGE=tmp_path / "storage",
        PALIMPSEST_DEMO_ROOT=tiny_world.root,
        PALIMPSEST_BASE_MODEL=tiny_world.model_dir,
        PALIMPSEST_UNLEARN_RETAIN_CORPUS=tiny_world.world_dir / "train.jsonl",
        **TINY_JOB_SETTINGS,
    )
    settings.PALIMPSEST_STORAGE = Path(settings.PALIMPSEST_STORAGE)
    return environment


@pytest.fixture
def base_version(job_env, tiny_world) -> ModelVersion:
    from requests_app.audit import Actor

    version, _ = model_version_register_base(artifact_path=tiny_world.model_dir, actor=Actor.system())
    return version


class World:
    """The tiny world's people and training texts, read from its files."""

    def __init__(self, paths):
        self.paths = paths
        self.people = {
            p["person_id"]: p
            for p in map(json.loads, (paths.world_dir / "people.jsonl").read_text().splitlines())
        }
        self.train = [json.loads(line) for line in (paths.world_dir / "train.jsonl").read_text().splitlines()]

    def texts_of(self, person_id: str) -> list[str]:
        return [r["text"] for r in self.train if r["person_id"] == person_id]

    def members(self) -> list[str]:
        return [pid for pid, p in self.people.items() if p["group"] == "member"]


@pytest.fixture(scope="session")
def world(tiny_world) -> World:
    return World(tiny_world)


@pytest.fixture
def approve(world):
    """approve(person_id, items=6, trained=None (all), due_in=20 days, approved_ago=0, status=approved):
    a request of that person's training texts, approved as review would store it."""

    def make(
        person_id: str,
        *,
        items: int = 6,
        trained: int | None = None,
        due_in: timedelta = timedelta(days=20),
        approved_ago: timedelta = timedelta(0),
        status: Status = Status.APPROVED,
    ) -> ForgetRequest:
        now = timezone.now()
        texts = tuple(world.texts_of(person_id)[:items])
        req = make_request(
            status=status,
            texts=texts,
            requester_name=world.people[person_id]["name"],
            verified_at=now - timedelta(days=3),
            original_due_at=now + due_in,
            due_at=now + due_in,
        )
        trained = len(texts) if trained is None else trained
        for index, item in enumerate(req.items.order_by("position")):
            ApprovedItem.objects.create(
                request=req,
                item=item,
                sha256=item.sha256,
                in_coreset=index < trained,
                approved_at=now - approved_ago,
            )
        return req

    return make


@pytest.fixture
def job_roles(db):
    """The roles' rights on jobs, granted again when a transactional test flushed the groups."""
    grants = importlib.import_module("unlearn_jobs.migrations.0002_operator_permissions").ROLE_PERMISSIONS
    for role, codes in grants.items():
        group = ensure_role(role)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


@pytest.fixture
def operator(make_user, job_roles):
    return make_user("mo", "ml_operator")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own, without persistence: restarting it empties it."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.process = folder, _free_port(), None
        self.folder.mkdir(parents=True, exist_ok=True)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart_empty(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_broker(tmp_path, monkeypatch):
    """A throwaway Redis as this process's broker too (the write/read URLs override CELERY_BROKER_URL)."""
    server = RedisServer(tmp_path / "redis")
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", server.url)
    monkeypatch.setenv("CELERY_BROKER_READ_URL", server.url)
    app._pool = None
    app.amqp._producer_pool = None
    yield server
    app._pool = None
    app.amqp._producer_pool = None
    server.stop()


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
