"""The whole journey on PostgreSQL, Redis and real Celery worker processes with the tiny world, played
by the same code as `manage.py run_demo_scenario`: what each user would notice at the end."""

import pytest
from django.core.management import call_command

from palimpsest.demo.management.harness import OwnWorker
from palimpsest.demo.management.scenario import run_scenario
from palimpsest.demo.management.summary import summary
from requests_app.models import AuditEvent
from tests.fixtures.jobs import PRODUCT_JOB
from unlearn_jobs.registry.selectors import production_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_people_are_forgotten_the_poisoner_is_refused_and_the_audit_chain_holds(
    redis_broker, job_env, base_version, tiny_world, isolated_cache, settings, tmp_path, job_roles
):
    # Given the demo accounts (made as the embedded mode makes them, in the roles' groups: job_roles makes
    # them again after a transactional test's flush), the tiny model in production, the product's default
    # job settings and one worker on every queue
    settings.DEBUG = True
    call_command("seed_demo_users")
    settings.DEBUG = False
    job_env.set(**PRODUCT_JOB)
    worker = OwnWorker(tmp_path / "worker.log", extra_env=job_env.env)
    worker.start()
    # When two demo people and a poisoner walk the journey
    try:
        journey = run_scenario(world_root=tiny_world.root, requests=2, say=print, timeout=240)
    except Exception:
        print(worker.log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        worker.stop()
    result = summary(journey)
    rows = {row["poisoned"]: [] for row in result["requests"]}
    for row in result["requests"]:
        rows[row["poisoned"]].append(row)
    # Then screening showed the officer which request was the poisoned one
    assert [r["screening_risk"] for r in rows[True]] == ["high"]
    assert all(r["screening_risk"] != "high" for r in rows[False])
    # And the genuine requests are completed and the poisoned one rejected
    assert [r["status"] for r in rows[False]] == ["completed", "completed"]
    assert [r["status"] for r in rows[True]] == ["rejected"]
    # And each subject got the confirmation code and a certificate e-mail, whose link opens the certificate
    for row in rows[False]:
        assert any("confirm" in s.lower() for s in row["emails"])
        assert any("complete" in s.lower() for s in row["emails"]) and row["certificate"]
    # And the published version is the one the gate passed, and production points at it
    assert result["gate_passed"] is True
    assert result["published_version"] == result["candidate_version"] == production_version().number
    assert result["published_version"] > base_version.number
    # And the requesters' data leaks less than from the parent, while utility keeps within the policy
    for row in rows[False]:
        assert row["greedy_leak_rate_after"] is not None
        assert row["greedy_leak_rate_after"] < row["greedy_leak_rate_before"]
    assert result["utility_ratio"] >= 0.97
    # And the audit chain is intact, with every request's path in it
    call_command("verify_audit_chain")
    assert AuditEvent.objects.filter(action="release.published").count() >= 2
