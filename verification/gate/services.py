"""The verification gate: run the suite on a candidate and its parent, judge by the current policy, sign
the report, and move the version and its requests on. Every step is a service; the task only calls
`verification_run`.

A run resumes: each finished stage's figures are stored before the next starts, so a worker that dies
(the task is redelivered) does not redo them. A failed verdict retries the job with stronger settings
up to PALIMPSEST_VERIFICATION_MAX_RETRIES, then sends the requests back to `approved` with the reason.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from palimpsest.hashing import canonical_json, sha256_hex
from palimpsest.keys import signing_key
from palimpsest.signing import sign_document
from requests_app.audit import Actor, audit_append
from requests_app.models import Status
from requests_app.services import apply_transition, lock_request
from unlearn_jobs.jobs import services as jobs_services
from unlearn_jobs.registry import services as registry
from unlearn_jobs.registry.models import ModelVersion, VersionStatus
from verification.gate import figures as F
from verification.gate.models import ReportStatus, VerificationPolicy, VerificationReport
from verification.gate.policy import DEFAULT_THRESHOLDS, evaluate, validate_thresholds
from verification.gate.probes import gate_probes
from verification.gate.stages import measure_candidate, measure_parent
from verification.metrics import Budget

logger = logging.getLogger(__name__)
STAGES = ("parent", "candidate")


def policy_current() -> VerificationPolicy:
    """The newest policy; version 1 (the shipped defaults) is written on first use."""
    policy = VerificationPolicy.objects.order_by("-version").first()
    if policy is None:
        policy, _ = VerificationPolicy.objects.get_or_create(
            version=1, defaults={"thresholds": DEFAULT_THRESHOLDS, "note": "The shipped defaults."}
        )
    return policy


@transaction.atomic
def verification_policy_create(*, thresholds: dict, note: str, user) -> VerificationPolicy:
    """A new policy version (policies are never edited in place)."""
    problems = validate_thresholds(thresholds)
    if problems:
        raise ApplicationError(" ".join(problems), field="thresholds")
    latest = VerificationPolicy.objects.select_for_update().order_by("-version").first()
    policy = VerificationPolicy.objects.create(
        version=(latest.version + 1) if latest else 1, thresholds=thresholds, note=note, created_by=user
    )
    audit_append(
        actor=Actor.user(user),
        action="verification_policy.created",
        obj=policy,
        data={"version": policy.version, "thresholds_sha256": sha256_hex(canonical_json(thresholds))},
    )
    return policy


def verification_start(*, version_id: int) -> VerificationReport | None:
    """Open a run for a candidate, or find the one open (safe to call again: the reconciler re-announces
    candidates). None when the version is no longer a candidate. The caller enqueues the run."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.status != VersionStatus.CANDIDATE:
            return None
        live = version.verification_reports.filter(status__in=[ReportStatus.PENDING, ReportStatus.RUNNING])
        report = live.first()
        if report is None:
            try:
                with transaction.atomic():
                    report = VerificationReport.objects.create(
                        model_version=version,
                        job=version.produced_by,
                        policy=policy_current(),
                        stages_total=len(STAGES),
                    )
            except IntegrityError:  # another caller opened it first
                report = live.first()
            audit_append(
                actor=Actor.system(),
                action="verification.started",
                obj=version,
                data={"report_id": report.pk, "policy_version": report.policy.version},
            )
    return report


def _claim(report_id: int, worker_id: str) -> VerificationReport | None:
    """Take the run (pending, or running on a worker that died: the task was redelivered)."""
    with transaction.atomic():
        report = VerificationReport.objects.select_for_update().get(pk=report_id)
        if report.status not in (ReportStatus.PENDING, ReportStatus.RUNNING):
            return None
        report.status, report.worker_id = ReportStatus.RUNNING, worker_id
        report.started_at = report.started_at or timezone.now()
        report.save(update_fields=["status", "worker_id", "started_at", "updated_at"])
        return report


def _store_stage(report: VerificationReport, stage: str, result: dict) -> None:
    report.stage_results = {**report.stage_results, stage: result}
    report.stage, report.stages_done = stage, len(report.stage_results)
    report.save(update_fields=["stage_results", "stage", "stages_done", "updated_at"])


def budget() -> Budget:
    return Budget.bounded() if settings.PALIMPSEST_VERIFICATION_BUDGET == "bounded" else Budget()


def verification_run(*, report_id: int, worker_id: str = "") -> VerificationReport | None:
    """Run (or resume) one verification; returns the finished report, None when there is nothing to do."""
    report = _claim(report_id, worker_id)
    if report is None:
        return None
    version = report.model_version
    try:
        gate = gate_probes(version)
        plan = budget()
        if "parent" not in report.stage_results:
            _store_stage(report, "parent", measure_parent(version.parent.artifact_path, gate, plan))
        if "candidate" not in report.stage_results:
            parent = _parent_stage(report)["figures"]
            _store_stage(report, "candidate", measure_candidate(version.artifact_path, gate, plan, parent))
    except Exception as error:
        _record_error(report, error)
        raise
    return verification_conclude(report_id=report.pk)


def _parent_stage(report: VerificationReport) -> dict:
    """The parent stage as stored: {"figures", "per_request"}; runs stored before the parent's leak
    figures were measured hold the utility figures alone."""
    stage = report.stage_results["parent"]
    return stage if "figures" in stage else {"figures": stage, "per_request": {}}


def _record_error(report: VerificationReport, error: BaseException) -> None:
    # The message names the failing step; it never holds a text (model and probe errors carry none).
    VerificationReport.objects.filter(pk=report.pk).update(
        error=f"{type(error).__name__}: {str(error)[:500]}", updated_at=timezone.now()
    )


def report_document(report: VerificationReport) -> dict:
    """What is signed: ids, hashes, figures and verdicts. The artifact's sha256s tie it to the weights."""
    version = report.model_version
    return {
        "kind": "palimpsest.verification_report",
        "report_id": report.pk,
        "model_version": version.number,
        "parent_version": version.parent.number if version.parent else None,
        "job_id": report.job_id,
        "artifact_sha256": version.artifact_sha256,
        "artifact_files": version.manifest.get("sha256", {}),
        "policy_version": report.policy.version,
        "policy_thresholds": report.policy.thresholds,
        "passed": report.passed,
        "checks": report.checks,
        "figures": report.figures,
        "parent_figures": report.parent_figures,
        "per_request": report.per_request,
        "probe_counts": report.probe_counts,
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
    }


@transaction.atomic
def verification_conclude(*, report_id: int) -> VerificationReport | None:
    """Judge the stored figures by the report's policy, sign, and move the version and requests on."""
    report = VerificationReport.objects.select_for_update().get(pk=report_id)
    if report.status != ReportStatus.RUNNING or "candidate" not in report.stage_results:
        return None
    candidate = report.stage_results["candidate"]
    outcome = evaluate(candidate["figures"], report.policy.thresholds)
    verdicts = F.request_verdicts(candidate["per_request"], report.policy.thresholds)
    parent = _parent_stage(report)
    per_request = {
        rid: {**figs, "before": parent["per_request"].get(rid, {}), "passed": verdicts.get(rid, True)}
        for rid, figs in candidate["per_request"].items()
    }
    report.figures = candidate["figures"]
    report.parent_figures = parent["figures"]
    report.per_request, report.probe_counts = per_request, candidate["probe_counts"]
    report.checks, report.passed = outcome.as_dict(), outcome.passed
    report.status = ReportStatus.PASSED if outcome.passed else ReportStatus.FAILED
    report.finished_at, report.error = timezone.now(), ""
    report.document = sign_document(report_document(report), signing_key())
    report.document_sha256 = sha256_hex(canonical_json(report.document))
    report.save()
    version = report.model_version
    failed = [c.name for c in outcome.failed]
    audit_append(
        actor=Actor.system(),
        action="verification.finished",
        obj=version,
        data={
            "report_id": report.pk,
            "passed": outcome.passed,
            "failed_checks": failed,
            "policy_version": report.policy.version,
            "document_sha256": report.document_sha256,
        },
    )
    if outcome.passed:
        registry.model_version_transition(
            version_id=version.pk,
            to=VersionStatus.VERIFIED,
            actor=Actor.system(),
            expected=VersionStatus.CANDIDATE,
        )
        _move_requests(report, to=Status.AWAITING_RELEASE, action="verification.passed")
    else:
        registry.model_version_transition(
            version_id=version.pk,
            to=VersionStatus.VERIFICATION_FAILED,
            actor=Actor.system(),
            expected=VersionStatus.CANDIDATE,
        )
        _move_requests(report, to=Status.APPROVED, action="verification.failed")
        jobs_services.unlearn_job_retry_after_verification(
            job_id=report.job_id, failed_checks=failed, actor=Actor.system()
        )
    return report


def _move_requests(report: VerificationReport, *, to: Status, action: str) -> int:
    """Move the job's own requests still `verifying` (carried ones were completed earlier)."""
    moved = 0
    for request_id in report.job.job_requests.filter(carried=False).values_list("request_id", flat=True):
        req = lock_request(request_id=request_id)
        if req.status == Status.VERIFYING:
            data = {"report_id": report.pk, "version_id": report.model_version_id, "passed": report.passed}
            apply_transition(req, to=to, actor=Actor.system(), action=action, data=data)
            moved += 1
    return moved
