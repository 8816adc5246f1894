"""Release pages: the versions with their lineage and verdicts, a version's page with the release
manager's buttons, and the subject's certificate (token-protected, like the status page)."""

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from palimpsest.errors import ApplicationError
from requests_app.intake.selectors import forget_request_for_subject
from verification.releases import selectors, services

VIEW_PERMISSION = "verification.view_releasedecision"
RELEASE_PERMISSION = "verification.release_modelversion"


def staff_required(permission: str):
    """Anonymous visitors go to the login page; signed-in users without the permission get a 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _version_or_404(number: int):
    version = selectors.version_by_number(number=number)
    if version is None:
        raise Http404("No such model version.")
    return version


@require_GET
@staff_required(VIEW_PERMISSION)
def release_list(request):
    return render(request, "verification/releases/list.html", {"rows": selectors.version_rows()})


@require_GET
@staff_required(VIEW_PERMISSION)
def release_detail(request, number: int):
    version = _version_or_404(number)
    return render(
        request,
        "verification/releases/detail.html",
        {
            "version": version,
            "report": selectors.latest_report(version),
            "decisions": selectors.decisions(version),
            "job_requests": len(selectors.job_request_ids(version)),
            "aliases": [a.name for a in version.aliases.all()],
            "can_release": request.user.has_perm(RELEASE_PERMISSION),
        },
    )


def _act(request, number: int, action, done: str):
    version = _version_or_404(number)
    comment = request.POST.get("comment", "")[:4000]
    try:
        action(version=version, user=request.user, comment=comment)
    except ApplicationError as error:
        return render(
            request,
            "verification/releases/refused.html",
            {"version": version, "message": error.message},
            status=400,
        )
    messages.success(request, done.format(number=version.number))
    return redirect("verification:release", number=version.number)


@require_POST
@staff_required(RELEASE_PERMISSION)
def release_approve(request, number: int):
    return _act(
        request,
        number,
        lambda version, user, comment: services.release_approve(
            version_id=version.pk, user=user, comment=comment
        ),
        "v{number} is approved for release.",
    )


@require_POST
@staff_required(RELEASE_PERMISSION)
def release_refuse(request, number: int):
    return _act(
        request,
        number,
        lambda version, user, comment: services.release_refuse(
            version_id=version.pk, user=user, comment=comment
        ),
        "v{number} is refused; its requests wait for the next batch.",
    )


@require_POST
@staff_required(RELEASE_PERMISSION)
def release_publish(request, number: int):
    return _act(
        request,
        number,
        lambda version, user, comment: services.release_publish(version_id=version.pk, user=user),
        "v{number} is in production.",
    )


@require_POST
@staff_required(RELEASE_PERMISSION)
def release_rollback(request, number: int):
    return _act(
        request,
        number,
        lambda version, user, comment: services.release_rollback(version_id=version.pk, user=user),
        "Production is back on v{number}.",
    )


def _certificate_or_404(request, public_id):
    certificate = selectors.certificate_of(public_id=public_id)
    if (
        certificate is None
        or forget_request_for_subject(public_id=public_id, token=request.GET.get("t")) is None
    ):
        raise Http404("No such certificate.")
    return certificate


@require_GET
def certificate_page(request, public_id):
    certificate = _certificate_or_404(request, public_id)
    return render(
        request,
        "verification/releases/certificate.html",
        {
            "certificate": certificate,
            "document": certificate.document["document"],
            "figures": selectors.certificate_figures(
                certificate.document["document"]["verification"]["figures"]
            ),
            "token": request.GET["t"],
        },
    )


@require_GET
def certificate_download(request, public_id):
    certificate = _certificate_or_404(request, public_id)
    response = HttpResponse(
        json.dumps(certificate.document, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="erasure-certificate-{public_id}.json"'
    return response
