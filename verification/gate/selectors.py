"""Reads for the verification report page: the checks with their bars, parent against candidate, and
each request's own figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import QuerySet

from verification.gate.models import VerificationReport

BAR_WIDTH = 240  # pixels of the widest bar in the charts


def report_for_version(*, number: int) -> VerificationReport | None:
    """The latest verification run of model version `number`."""
    return (
        VerificationReport.objects.select_related("model_version", "model_version__parent", "policy", "job")
        .filter(model_version__number=number)
        .order_by("-created_at", "-pk")
        .first()
    )


def reports() -> QuerySet[VerificationReport]:
    return VerificationReport.objects.select_related("model_version", "policy").order_by("-created_at")


@dataclass(frozen=True)
class CheckRow:
    name: str
    label: str
    value: float | None
    bound: str
    threshold: float
    required: bool
    passed: bool
    reason: str
    value_px: int  # bar lengths on one scale per row: the larger of value and threshold fills the bar
    threshold_px: int


def _px(value: float | None, scale: float) -> int:
    if value is None or scale <= 0 or not math.isfinite(value):
        return 0
    return max(1, round(BAR_WIDTH * min(abs(value), scale) / scale))


def check_rows(report: VerificationReport) -> list[CheckRow]:
    rows = []
    for check in report.checks.get("checks", []):
        value, threshold = check["value"], check["threshold"]
        scale = max(abs(value) if value is not None else 0.0, abs(threshold), 1e-9)
        rows.append(
            CheckRow(
                **{k: check[k] for k in ("name", "label", "bound", "required", "passed", "reason")},
                value=value,
                threshold=threshold,
                value_px=_px(value, scale),
                threshold_px=_px(threshold, scale),
            )
        )
    return rows


@dataclass(frozen=True)
class Comparison:
    name: str
    parent: float | None
    candidate: float | None
    change: float | None
    worse: bool  # a utility figure that fell by more than 0.03, or a leak figure that rose


def parent_comparison(report: VerificationReport) -> list[Comparison]:
    """The figures measured on both versions, with the change: leak figures first (what forgetting
    achieved), then what it cost (utility, normal answers in mixed prompts)."""
    rows = []
    for name, parent in sorted(
        report.parent_figures.items(), key=lambda kv: (_higher_is_better(kv[0]), kv[0])
    ):
        candidate = report.figures.get(name)
        change = candidate - parent if candidate is not None and parent is not None else None
        worse = change is not None and (change < -0.03 if _higher_is_better(name) else change > 0)
        rows.append(Comparison(name, parent, candidate, change, worse))
    return rows


def _higher_is_better(name: str) -> bool:
    """Utility and the normal answers kept in mixed prompts; every other parent figure is a leak."""
    return name.startswith("utility/") or name == "robustness/mixed/survival"


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    probes: int
    greedy_leak_rate: float | None
    sampled_leak_rate: float | None
    sampled_leak_bound: float | None
    passed: bool
    # the same figures of the parent version on the same probes (None: not measured by older runs)
    greedy_leak_rate_before: float | None = None
    sampled_leak_rate_before: float | None = None


def request_rows(report: VerificationReport) -> list[RequestRow]:
    rows = [
        RequestRow(
            request_id=request_id,
            probes=figures.get("probes", 0),
            greedy_leak_rate=figures.get("forget/greedy_leak_rate"),
            sampled_leak_rate=figures.get("leakage/value_rate"),
            sampled_leak_bound=figures.get("forget/sampled_leak_bound"),
            passed=bool(figures.get("passed", False)),
            greedy_leak_rate_before=(figures.get("before") or {}).get("forget/greedy_leak_rate"),
            sampled_leak_rate_before=(figures.get("before") or {}).get("leakage/value_rate"),
        )
        for request_id, figures in report.per_request.items()
    ]
    return sorted(rows, key=lambda row: int(row.request_id) if row.request_id.isdigit() else 0)
