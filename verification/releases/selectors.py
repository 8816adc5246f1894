"""Reads of the releases pages and the release rules: versions with lineage, the report a decision
rests on, who may not approve a version (four-eyes), and what a rollback would bring back."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from requests_app.models import ForgetRequest, Status
from requests_app.review.models import ApprovalVote, DecisionKind, ReviewDecision
from unlearn_jobs.jobs.models import JobRequest
from unlearn_jobs.registry.models import ModelAlias, ModelVersion
from verification.gate.models import ReportStatus, VerificationReport
from verification.releases.models import ErasureCertificate, ReleaseDecision


def latest_report(version: ModelVersion) -> VerificationReport | None:
    return (
        VerificationReport.objects.select_related("policy")
        .filter(model_version=version)
        .order_by("-created_at", "-pk")
        .first()
    )


def report_passed(version: ModelVersion) -> bool:
    report = latest_report(version)
    return report is not None and report.status == ReportStatus.PASSED and report.document is not None


def job_request_ids(version: ModelVersion) -> list[int]:
    """The requests this version's own job erased (not those carried again by a rebase)."""
    if version.produced_by_id is None:
        return []
    return sorted(
        JobRequest.objects.filter(job_id=version.produced_by_id, carried=False).values_list(
            "request_id", flat=True
        )
    )


def conflicted_user_ids(version: ModelVersion) -> set[int]:
    """Who may not approve the version: the person who started its job and every officer who approved
    one of its requests (a vote or an approval decision; stricter than high-risk requests only)."""
    request_ids = job_request_ids(version)
    users = set(ApprovalVote.objects.filter(request_id__in=request_ids).values_list("officer_id", flat=True))
    users |= set(
        ReviewDecision.objects.filter(request_id__in=request_ids, kind=DecisionKind.APPROVE).values_list(
            "officer_id", flat=True
        )
    )
    if version.produced_by_id is not None and version.produced_by.created_by_id is not None:
        users.add(version.produced_by.created_by_id)
    return users


def erased_since(version: ModelVersion) -> list[int]:
    """Completed requests whose data `version` still holds: publishing it again would bring them back."""
    included = version.included_requests.values_list("pk", flat=True)
    return sorted(
        ForgetRequest.objects.filter(status=Status.COMPLETED)
        .exclude(pk__in=included)
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class VersionRow:
    version: ModelVersion
    requests: int
    aliases: list[str]
    report: VerificationReport | None


def version_rows() -> list[VersionRow]:
    versions: QuerySet[ModelVersion] = (
        ModelVersion.objects.select_related("parent", "produced_by")
        .annotate(request_count=Count("included_requests", distinct=True))
        .prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")),
            Prefetch(
                "verification_reports",
                queryset=VerificationReport.objects.select_related("policy").order_by("-created_at", "-pk"),
            ),
        )
        .order_by("-number")
    )
    return [
        VersionRow(
            version=v,
            requests=v.request_count,
            aliases=[a.name for a in v.aliases.all()],
            report=next(iter(v.verification_reports.all()), None),
        )
        for v in versions
    ]


def version_by_number(*, number: int) -> ModelVersion | None:
    return ModelVersion.objects.select_related("parent", "produced_by").filter(number=number).first()


def decisions(version: ModelVersion) -> QuerySet[ReleaseDecision]:
    return ReleaseDecision.objects.select_related("decided_by").filter(model_version=version)


def certificate_of(*, public_id) -> ErasureCertificate | None:
    return (
        ErasureCertificate.objects.select_related("request", "model_version")
        .filter(request__public_id=public_id)
        .first()
    )


# What a data subject reads on the certificate page, in this order; other figures follow under their names.
CERTIFICATE_FIGURES = (
    ("passed", "The version passed verification", "yes-no"),
    ("probes", "Prompts and questions about your data put to the model", "count"),
    (
        "forget/greedy_leak_rate",
        "Share of its most likely answers that gave away a value you asked us to erase",
        "percent",
    ),
    ("leakage/value_rate", "Share of its randomly sampled answers that did", "percent"),
    ("forget/sampled_leak_bound", "The most that share can be, with 99 % confidence", "percent"),
)


@dataclass(frozen=True)
class FigureRow:
    label: str
    name: str
    value: str


def _shown(value, kind: str) -> str:
    if value is None:
        return "not measured"
    if kind == "yes-no" or isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "percent":
        return f"{100 * float(value):.2f} %"
    if kind == "count" or isinstance(value, int):
        return str(value)
    return f"{float(value):.4g}" if isinstance(value, float) else str(value)


def certificate_figures(figures: dict) -> list[FigureRow]:
    """A certificate's figures in plain words, formatted; the signed document keeps the exact values."""
    known = {name for name, _, _ in CERTIFICATE_FIGURES}
    rows = [
        FigureRow(label, name, _shown(figures[name], kind))
        for name, label, kind in CERTIFICATE_FIGURES
        if name in figures
    ]
    rows += [
        FigureRow(name, name, _shown(figures[name], "")) for name in sorted(figures) if name not in known
    ]
    return rows
