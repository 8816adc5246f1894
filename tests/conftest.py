"""Shared fixtures: users in roles, a real Celery worker process on the real broker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The demo world (tiny size) is built once per run and cached on disk: see tests/fixtures/demo.py.
pytest_plugins = ["tests.fixtures.demo"]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def make_user(django_user_model):
    from django.contrib.auth.models import Group

    def make(username: str, *roles: str, password: str = "correct-horse-battery-staple"):
        user = django_user_model.objects.create_user(username=username, password=password)
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def _broker_url() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        raise RuntimeError(
            "Worker tests need the real Redis broker: run them through `make test`, which starts Redis "
            "or uses REDIS_URL/CELERY_BROKER_URL."
        )
    return url


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real `celery worker` process on the Redis broker, talking to the test database."""
    from django.db import connection

    from palimpsest.celery import app

    broker = _broker_url()
    app.control.purge()  # messages left by earlier tests must not reach this worker
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "palimpsest.celery",
            "worker",
            "-Q",
            "cpu,gpu,eval",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{worker.stdout.read()}")
            replies = app.control.ping(timeout=1.0)
            if any(name.startswith(f"test-{os.getpid()}@") for reply in replies for name in reply):
                break
        else:
            raise RuntimeError("celery worker did not answer a ping within 60 s")
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
