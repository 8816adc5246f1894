"""The verification report page and its signed JSON download (staff who may view reports)."""

import json

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from verification.gate import selectors

VIEW_PERMISSION = "verification.view_verificationreport"


def _report_or_404(number: int):
    report = selectors.report_for_version(number=number)
    if report is None:
        raise Http404("This version has no verification report yet.")
    return report


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def report_detail(request, number: int):
    report = _report_or_404(number)
    return render(
        request,
        "verification/report.html",
        {
            "report": report,
            "version": report.model_version,
            "checks": selectors.check_rows(report),
            "comparison": selectors.parent_comparison(report),
            "requests": selectors.request_rows(report),
            "bar_width": selectors.BAR_WIDTH,
        },
    )


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def report_download(request, number: int):
    report = _report_or_404(number)
    if report.document is None:
        raise Http404("The report is not finished, so there is nothing signed to download yet.")
    response = HttpResponse(
        json.dumps(report.document, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="verification-v{number}-report-{report.pk}.json"'
    return response
