"""The gate on the tiny world: a candidate that still knows the forgotten people is rejected and its job
retried with stronger settings; the model retrained without them passes; the report is signed."""

import json

import pytest
from django.core.management import CommandError, call_command

from requests_app.models import AuditEvent, ForgetRequest, Status
from unlearn_jobs.jobs.models import BatchReason, UnlearnJob
from unlearn_jobs.registry.models import VersionStatus
from verification.gate import services
from verification.gate.models import ReportStatus, VerificationReport
from verification.gate.tasks import start_verification

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _statuses(requests) -> set[str]:
    return set(ForgetRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list("status", flat=True))


def test_a_candidate_that_still_knows_the_people_fails_and_its_job_is_retried(
    candidate, forgotten_requests, tiny_world, tmp_path
):
    # Given a "candidate" that is the unchanged base model: it still knows both forgotten people
    job, requests = forgotten_requests
    version = candidate(tiny_world.model_dir)
    # When the gate verifies it
    report = services.verification_start(version_id=version.pk)
    finished = services.verification_run(report_id=report.pk)
    # Then it fails on what it still gives away, greedy and sampled, for each request
    assert finished.status == ReportStatus.FAILED and finished.passed is False
    failed = {c["name"] for c in finished.checks["checks"] if not c["passed"]}
    assert {"forget/greedy_leak_rate", "forget/sampled_leak_bound"} <= failed
    assert set(finished.per_request) == {str(r.pk) for r in requests}
    assert all(not figures["passed"] for figures in finished.per_request.values())
    # The parent was measured on the same probes: a candidate that is the parent reads the same before
    for figures in finished.per_request.values():
        for name in ("forget/greedy_leak_rate", "leakage/value_rate", "forget/sampled_leak_bound"):
            assert figures["before"][name] == figures[name]
    version.refresh_from_db()
    assert version.status == VersionStatus.VERIFICATION_FAILED
    # And the job is retried with stronger settings: the requests are unlearning again in a new job
    retry = UnlearnJob.objects.get(retry_of=job)
    assert retry.reason == BatchReason.VERIFICATION and retry.verification_retry == 1
    before, after = job.engine_settings, retry.engine_settings
    assert (after["max_steps"] or 0) > (before["max_steps"] or 0) or (after["epochs"] or 0) > (
        before["epochs"] or 0
    )
    assert _statuses(requests) == {Status.UNLEARNING}
    # The report is signed over its figures and the artifact's hashes; the command checks it
    document = finished.document["document"]
    assert document["artifact_sha256"] == version.artifact_sha256 and document["passed"] is False
    path = tmp_path / "report.json"
    path.write_text(json.dumps(finished.document))
    call_command("verify_report", str(path))
    document["figures"]["forget/sampled_leak_bound"] = 0.0
    path.write_text(json.dumps(finished.document))
    with pytest.raises(CommandError, match="changed after signing"):
        call_command("verify_report", str(path))
    # Audit rows carry ids, verdicts and hashes, never a text
    event = AuditEvent.objects.get(action="verification.finished", object_id=str(version.pk))
    assert event.data["passed"] is False and event.data["document_sha256"] == finished.document_sha256
    assert all(r.requester_name not in json.dumps(finished.document) for r in requests)


def test_the_model_retrained_without_the_people_passes_and_waits_for_release(
    candidate, forgotten_requests, tiny_world_retrained
):
    job, requests = forgotten_requests
    version = candidate(tiny_world_retrained.model_dir)
    report = services.verification_start(version_id=version.pk)
    finished = services.verification_run(report_id=report.pk)
    failed = [(c["name"], c["reason"]) for c in finished.checks["checks"] if not c["passed"]]
    assert failed == [] and finished.status == ReportStatus.PASSED
    # Before (the parent, which knows the people) and after, per request and for the job
    for figures in finished.per_request.values():
        assert figures["before"]["forget/greedy_leak_rate"] > 0.1 > figures["forget/greedy_leak_rate"]
    assert (
        finished.parent_figures["forget/sampled_leak_bound"] > finished.figures["forget/sampled_leak_bound"]
    )
    # Normal answers kept in mixed prompts are judged against the parent's own, on the same prompts
    parent_mixed, figures = finished.parent_figures["robustness/mixed/survival"], finished.figures
    assert 0 < parent_mixed <= 1.5
    assert figures["robustness/mixed_prompt_utility"] == pytest.approx(
        figures["robustness/mixed/survival"] / parent_mixed
    )
    version.refresh_from_db()
    assert version.status == VersionStatus.VERIFIED
    assert _statuses(requests) == {Status.AWAITING_RELEASE}
    assert not UnlearnJob.objects.filter(retry_of=job).exists()


def test_a_second_announcement_opens_no_second_run_and_a_rerun_keeps_finished_stages(
    candidate, tiny_world_retrained, settings
):
    # Given a candidate announced twice (the reconciler re-announces waiting candidates)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    version = candidate(tiny_world_retrained.model_dir)
    first = services.verification_start(version_id=version.pk)
    second = services.verification_start(version_id=version.pk)
    assert first.pk == second.pk and VerificationReport.objects.filter(model_version=version).count() == 1
    # When a worker had finished the parent stage before it died (stored), the rerun keeps it
    marker = {"utility/model_utility": 0.5, "utility/neighbour/rouge": 0.5, "utility/neighbour/prob": 0.5}
    VerificationReport.objects.filter(pk=first.pk).update(
        status=ReportStatus.RUNNING, stage_results={"parent": marker}, stages_done=1
    )
    finished = services.verification_run(report_id=first.pk)
    assert finished.parent_figures == marker  # not measured again
    assert finished.stages_done == 2


def test_the_candidate_signal_starts_verification(candidate, tiny_world_retrained, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the eval worker runs in this process for the test
    version = candidate(tiny_world_retrained.model_dir)
    start_verification(version_id=version.pk)
    report = VerificationReport.objects.get(model_version=version)
    assert report.status == ReportStatus.PASSED
