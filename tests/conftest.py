"""Shared fixtures: one torch thread, an isolated cache, staff users in roles, a real Celery worker process
on the real broker."""

import importlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from django.contrib.auth.models import Group, Permission

ROOT = Path(__file__).resolve().parent.parent
# The demo world (tiny size) is built once per run and cached on disk: see tests/fixtures/demo.py.
pytest_plugins = ["tests.fixtures.demo", "tests.fixtures.jobs", "tests.fixtures.gate"]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Every model in the suite is tiny: a second intra-op thread only contends on the shared 2-core
    machine (measured: a screening context build took 43 s instead of 1.3 s, engine steps 40x slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _own_audit_export(settings, tmp_path):
    """Each test exports audit heads to a file of its own, never to the demo's under var/."""
    settings.PALIMPSEST_AUDIT_EXPORT = str(tmp_path / "audit-heads.jsonl")


@pytest.fixture
def isolated_cache(settings):
    """The real Redis cache, under a key prefix of this test's own, so rate limits do not leak across tests."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"t-{uuid.uuid4().hex}"}}


def role_grants() -> dict[str, set[str]]:
    """Every role's permissions ("app_label.codename"), as the migrations that grant them define them."""
    grants: dict[str, set[str]] = {}

    def add(role, codes):
        grants.setdefault(role, set()).update(codes)

    for role, codes in importlib.import_module(
        "requests_app.migrations.0002_roles_and_audit_head"
    ).ROLES.items():
        add(role, codes)
    for role, codes in importlib.import_module(
        "unlearn_jobs.migrations.0002_operator_permissions"
    ).ROLE_PERMISSIONS.items():
        add(role, codes)
    viewers = importlib.import_module("verification.migrations.0002_report_viewers")
    for role in viewers.VIEWERS:
        add(role, (f"verification.{code}" for code in viewers.CODES))
    for role, codes in importlib.import_module(
        "verification.migrations.0004_release_managers"
    ).GRANTS.items():
        add(role, (f"verification.{code}" for code in codes))
    return grants


def ensure_role(role: str):
    """The role's group; made again with all its permissions when a transactional test flushed it."""
    group, created = Group.objects.get_or_create(name=role)
    if created:
        for code in sorted(role_grants().get(role, ())):
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *role_names: str, password: str = PASSWORD, email: str | None = None):
        # Staff accounts have an address: without one, officers are refused decisions (policy.py).
        email = f"{username}@staff.palimpsest.invalid" if email is None else email
        user = django_user_model.objects.create_user(username=username, password=password, email=email)
        user.groups.add(*(ensure_role(role) for role in role_names))
        return user

    return make


@pytest.fixture
def officer(make_user):
    user = make_user("olga", "compliance_officer")
    user.email = "olga@palimpsest.invalid"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def second_officer(make_user):
    user = make_user("oscar", "compliance_officer")
    user.email = "oscar@palimpsest.invalid"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def release_manager(make_user):
    return make_user("rita", "release_manager")


@pytest.fixture
def ml_operator(make_user):
    return make_user("mo", "ml_operator")


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


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
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings_dev",
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
