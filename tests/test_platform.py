"""The platform itself: deploy checks, migrations, compose file, a real worker on the real broker."""

import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import ROOT
from tests.test_deployment_config import COMPOSE_SECRETS, PRODUCTION_ENV


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The browser tests allow Django's sync ORM inside Playwright's event loop; a deployment never does.
    base_env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_migrations_are_complete():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_is_valid():
    env = {**os.environ, **COMPOSE_SECRETS}
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make test` installs it (Debian package docker-compose)"
    result = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config", "--services"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert set(services) >= {
        "web",
        "worker-cpu",
        "worker-gpu",
        "worker-eval",
        "beat",
        "postgres",
        "redis",
    }


@pytest.mark.slow
def test_a_real_worker_runs_a_task_through_redis(celery_worker_process):
    # Given an unconfirmed request whose link expired, in the database the worker also sees
    from requests_app.intake.tasks import expire_unconfirmed_requests
    from requests_app.models import AuditEvent, ForgetRequest, Status
    from tests.requests_app.factories import make_request

    req = make_request()
    ForgetRequest.objects.filter(pk=req.pk).update(received_at=timezone.now() - timedelta(days=2))
    # When the periodic task is sent through the broker and a worker process runs it
    result = expire_unconfirmed_requests.apply_async()
    deadline = timezone.now() + timedelta(seconds=60)
    while timezone.now() < deadline:
        req.refresh_from_db()
        if req.status == Status.EXPIRED:
            break
        time.sleep(0.2)
    # Then the worker changed the row and audited it
    assert req.status == Status.EXPIRED, "the worker did not run the task within 60 s"
    assert AuditEvent.objects.filter(object_id=str(req.pk), data__to="expired").count() == 1
    assert result.id


@pytest.mark.django_db
def test_the_base_layout_shows_navigation_by_permission(client, make_user):
    # Given an officer (by group), an ML operator, and a user granted the permission directly
    from django.contrib.auth.models import Permission

    officer = make_user("olga", "compliance_officer")
    client.force_login(officer)
    page = client.get("/").content.decode()
    assert "Review queue" in page and "olga" in page and "Privacy notice" in page
    operator = make_user("otto", "ml_operator")
    client.force_login(operator)
    assert "Review queue" not in client.get("/").content.decode()
    direct = make_user("dana")
    direct.user_permissions.add(Permission.objects.get(codename="decide_forgetrequest"))
    client.force_login(direct)
    assert "Review queue" in client.get("/").content.decode()
    client.logout()
    page = client.get("/").content.decode()
    assert "Review queue" not in page and "Staff sign in" in page


@pytest.mark.django_db
def test_health_check_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_admin_shows_service_records_read_only(client, django_user_model):
    from tests.requests_app.factories import make_request

    admin_user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-for-admin-test")
    client.force_login(admin_user)
    req = make_request()
    for url in (
        "/admin/requests_app/forgetrequest/",
        f"/admin/requests_app/forgetrequest/{req.pk}/change/",
        "/admin/requests_app/auditevent/",
        "/admin/requests_app/screeningreport/",
        "/admin/requests_app/reviewdecision/",
        "/admin/requests_app/approvalvote/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/requests_app/auditevent/add/").status_code == 403
    # Deleting a request here would cascade past the services and leave no audit row.
    assert client.get(f"/admin/requests_app/forgetrequest/{req.pk}/delete/").status_code == 403
