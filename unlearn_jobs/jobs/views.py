"""Jobs pages for staff: the list with live progress (htmx refreshes a partial while a job is queued or
running), one job's page with its loss curves, and, for ML operators, "batch now" and cancel."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from palimpsest.errors import ApplicationError
from requests_app.audit import Actor
from unlearn_jobs.jobs import charts, selectors, services
from unlearn_jobs.jobs.api import MAX_ID, OPERATE_PERMISSION, VIEW_PERMISSION

PAGE_SIZE = 25
POLL_SECONDS = 3


def _list_context(request) -> dict:
    page = Paginator(selectors.job_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"job": job, "progress": selectors.progress_fraction(job)} for job in page.object_list]
    return {
        "page": page,
        "rows": rows,
        "polling": selectors.active_jobs().exists(),
        "poll_seconds": POLL_SECONDS,
        "can_operate": request.user.has_perm(OPERATE_PERMISSION),
    }


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def job_list(request):
    return render(request, "unlearn_jobs/jobs/list.html", _list_context(request))


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def job_rows(request):
    """The table alone, polled by the list page; it stops polling once no job is queued or running."""
    return render(request, "unlearn_jobs/jobs/_rows.html", _list_context(request))


@require_POST
@login_required
@permission_required(OPERATE_PERMISSION, raise_exception=True)
def batch_now(request):
    try:
        jobs = services.unlearn_jobs_batch(actor=Actor.user(request.user), manual=True, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("jobs:list")
    if not jobs:
        messages.error(request, "No approved request could be batched (they were taken meanwhile).")
    else:
        made = ", ".join(f"job {job.pk}" for job in jobs)
        messages.success(request, f"Batched the waiting requests into {made}.")
    return redirect("jobs:list")


def _detail_or_404(job_id: int) -> selectors.JobDetail:
    detail = selectors.job_detail(job_id=job_id) if job_id <= MAX_ID else None
    if detail is None:
        raise Http404("No such job.")
    return detail


def _detail_context(request, job_id: int) -> dict:
    detail = _detail_or_404(job_id)
    return {
        "job": detail.job,
        "detail": detail,
        "progress": selectors.progress_fraction(detail.job),
        "charts": charts.loss_charts(detail.series()),
        "retries": detail.retries,
        "poll_seconds": POLL_SECONDS,
        "can_operate": request.user.has_perm(OPERATE_PERMISSION),
    }


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def job_detail(request, job_id: int):
    return render(request, "unlearn_jobs/jobs/detail.html", _detail_context(request, job_id))


@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def job_live(request, job_id: int):
    """The job page's progress and curves alone, polled while the job is queued or running."""
    return render(request, "unlearn_jobs/jobs/_live.html", _detail_context(request, job_id))


@require_POST
@login_required
@permission_required(OPERATE_PERMISSION, raise_exception=True)
def job_cancel(request, job_id: int):
    _detail_or_404(job_id)
    try:
        job = services.unlearn_job_cancel(job_id=job_id, actor=Actor.user(request.user))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if job.is_active:
            messages.success(request, f"Cancellation requested: job {job.pk} stops at its next logged step.")
        else:
            messages.success(request, f"Job {job.pk} is cancelled; its requests are approved again.")
    return redirect(reverse("jobs:detail", args=[job_id]))
