"""The summary of a journey: per request its final status and leak rates before and after (the gate's
signed figures on the candidate and, on the same probes, on the parent), utility before and after,
seconds per stage, the published version."""

from __future__ import annotations

from palimpsest.demo.management.scenario import Journey
from requests_app.models import ForgetRequest


def summary(journey: Journey) -> dict:
    """Per request its final status and leak rates; utility before and after; seconds per stage."""
    report = journey.report
    # The report is keyed by the requests' internal ids; the subjects know their public ids.
    rows = ForgetRequest.objects.filter(public_id__in=[s.public_id for s in journey.subjects])
    pks = {str(public_id): pk for public_id, pk in rows.values_list("public_id", "pk")}
    rows = []
    for subject in journey.subjects:
        figures = report.get("per_request", {}).get(str(pks.get(subject.public_id)), {})
        before = figures.get("before") or {}  # the gate measured the parent on the same probes
        rows.append(
            {
                "request": subject.public_id,
                "poisoned": subject.poisoned,
                "status": subject.status,
                "screening_risk": journey.screening.get(subject.public_id, {}).get("risk"),
                "items": len(subject.texts),
                "greedy_leak_rate_before": before.get("forget/greedy_leak_rate"),
                "greedy_leak_rate_after": figures.get("forget/greedy_leak_rate"),
                "sampled_leak_rate_before": before.get("leakage/value_rate"),
                "sampled_leak_rate_after": figures.get("leakage/value_rate"),
                "emails": subject.mails,
                "certificate": subject.certificate,
            }
        )
    return {
        "requests": rows,
        "utility_before": report.get("parent_figures", {}).get("utility/model_utility"),
        "utility_after": report.get("figures", {}).get("utility/model_utility"),
        "utility_ratio": report.get("figures", {}).get("utility/ratio_to_parent"),
        "gate_passed": report.get("passed"),
        "jobs": journey.jobs,
        "candidate_version": journey.version,
        "published_version": journey.published,
        "seconds": journey.seconds,
    }
