"""Fixtures of the release tests: the tiny world's model registered as v1 (published), and candidates
made the way the platform makes them (a job over awaiting-release requests, a registered candidate
whose artifacts are a copy of the tiny model, a passed and signed verification report)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from palimpsest.hashing import canonical_json, sha256_hex
from palimpsest.keys import signing_key
from palimpsest.signing import sign_document
from requests_app.audit import Actor
from requests_app.models import ForgetRequest, Status
from unlearn_jobs.jobs.models import BatchReason, JobRequest, JobStatus, UnlearnJob
from unlearn_jobs.registry.models import ModelVersion, Strategy, VersionStatus
from unlearn_jobs.registry.services import model_version_register_candidate, model_version_transition
from verification.gate.models import ReportStatus, VerificationReport
from verification.gate.services import policy_current, report_document


@dataclass
class Candidate:
    version: ModelVersion
    job: UnlearnJob
    requests: list[ForgetRequest]
    report: VerificationReport


@pytest.fixture
def operator_user(make_user):
    return make_user("mo", "ml_operator")


@pytest.fixture
def manager(make_user):
    return make_user("rita", "release_manager")


@pytest.fixture
def second_manager(make_user):
    return make_user("ruth", "release_manager")


@pytest.fixture
def make_candidate(job_env, approve, world, operator_user):
    """make_candidate(person_ids, parent=production, passed=True): a verified candidate over new
    awaiting-release requests of those people (or `carried` requests already completed, rebase style)."""
    storage = job_env.settings.PALIMPSEST_STORAGE

    def make(person_ids, *, parent: ModelVersion, passed: bool = True, include=()) -> Candidate:
        requests = [approve(pid, items=3, status=Status.AWAITING_RELEASE) for pid in person_ids]
        job = UnlearnJob.objects.create(
            status=JobStatus.SUCCEEDED,
            max_attempts=1,
            method="npo",
            mode="lora",
            strategy=Strategy.INCREMENTAL,
            reason=BatchReason.MANUAL,
            parent_version=parent,
            created_by=operator_user,
        )
        for req in requests:
            JobRequest.objects.create(job=job, request=req)
        artifact = storage / "versions" / f"job-{job.pk}"
        shutil.copytree(world.paths.model_dir, artifact)
        included = [*parent.included_requests.values_list("pk", flat=True), *(r.pk for r in requests)]
        version = model_version_register_candidate(
            job=job,
            parent=parent,
            strategy=Strategy.INCREMENTAL,
            artifact_path=artifact,
            included_request_ids=[*included, *include],
            utility_cost=0.01,
            actor=Actor.system(),
        )
        target = VersionStatus.VERIFIED if passed else VersionStatus.VERIFICATION_FAILED
        model_version_transition(version_id=version.pk, to=target, actor=Actor.system())
        report = VerificationReport.objects.create(
            model_version=version,
            job=job,
            policy=policy_current(),
            status=ReportStatus.PASSED if passed else ReportStatus.FAILED,
            passed=passed,
            per_request={
                str(r.pk): {"probes": 12, "forget/greedy_leak_rate": 0.0, "passed": True} for r in requests
            },
        )
        report.document = sign_document(report_document(report), signing_key())
        report.document_sha256 = sha256_hex(canonical_json(report.document))
        report.save()
        version.refresh_from_db()
        return Candidate(version, job, requests, report)

    return make
