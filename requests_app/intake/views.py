"""Portal views: thin — parse, call a service, render. Every rule violation becomes a form error."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from palimpsest.errors import ApplicationError
from requests_app.intake import parsing, ratelimit, status_links
from requests_app.intake import selectors as intake_selectors
from requests_app.intake import services as intake_services
from requests_app.intake.emails import current_status_token, status_path
from requests_app.intake.forms import ConfirmForm, ForgetRequestForm, ReplyForm
from requests_app.models import Channel, ForgetRequest

_TOO_LARGE = (
    "What you sent is too large for one request (at most {files} files of {size} each). "
    "Nothing was saved; please send less, or split it into several requests."
)


def home(request):
    return render(request, "requests_app/home.html", {"limits": parsing.limits()})


def _too_large_form(request):
    lim = parsing.limits()
    error = _TOO_LARGE.format(files=lim.max_files, size=f"{lim.max_file_bytes / 1e6:g} MB")
    context = {"form": ForgetRequestForm(), "limits": lim, "top_error": error}
    return render(request, "requests_app/forget_form.html", context, status=413)


@csrf_exempt  # CSRF is checked by _forget_form, once we know the body is small enough to read
def forget_form(request):
    if request.method == "POST":
        if parsing.declared_body_too_large(request.META):
            return _too_large_form(request)
        try:
            request.POST  # noqa: B018 — parse now, so limits of Django's parser become a form error
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            return _too_large_form(request)
    return _forget_form(request)


@csrf_protect
def _forget_form(request):
    status = 200
    if request.method == "POST":
        form = ForgetRequestForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                submission = intake_services.forget_request_submit_fields(
                    data,
                    examples=form.examples(),
                    channel=Channel.PORTAL,
                    client_ip=ratelimit.client_ip(request),
                )
            except ApplicationError as error:
                form.add_application_error(error)
                status = 429 if isinstance(error, ratelimit.RateLimited) else 400
            else:
                return redirect("requests_app:confirm", public_id=submission.request.public_id)
        else:
            status = 400
    else:
        form = ForgetRequestForm()
    return render(
        request, "requests_app/forget_form.html", {"form": form, "limits": parsing.limits()}, status=status
    )


@never_cache
def confirm(request, public_id):
    """GET shows the code form (or, from the e-mail link, one button); POST confirms.

    The link does not confirm on GET, so that mail scanners that open links confirm nothing.
    """
    req = get_object_or_404(ForgetRequest, public_id=public_id)
    link_token = (request.POST.get("k") or request.GET.get("k") or "")[:100]
    form = ConfirmForm(request.POST if request.method == "POST" and not link_token else None)
    status = 200
    if request.method == "POST":
        try:
            ratelimit.hit("confirm-ip", ratelimit.client_ip(request))
            if link_token:
                req = intake_services.forget_request_confirm(public_id=public_id, link_token=link_token)
            elif form.is_valid():
                req = intake_services.forget_request_confirm(
                    public_id=public_id, code=form.cleaned_data["code"]
                )
            else:
                raise ApplicationError("Enter the six-digit code from the e-mail.", field="code")
        except ApplicationError as error:
            form = ConfirmForm(request.POST if not link_token else None)
            form.add_application_error(error)
            link_token = ""  # after a refusal, offer the code form
            status = 429 if isinstance(error, ratelimit.RateLimited) else 400
        else:
            messages.success(
                request, "Thank you: your e-mail address is confirmed and your request is on its way."
            )
            return redirect(status_path(req))
    return render(
        request,
        "requests_app/confirm.html",
        {"req": req, "form": form, "link_token": link_token},
        status=status,
    )


@never_cache
@require_POST
def resend_code(request, public_id):
    """A new code and link by e-mail (the old ones stop working); back to the code form either way."""
    get_object_or_404(ForgetRequest, public_id=public_id)
    try:
        ratelimit.hit("resend-ip", ratelimit.client_ip(request))
        intake_services.forget_request_resend_code(public_id=public_id)
    except ApplicationError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, "We have sent you a new code. The one before no longer works.")
    return redirect("requests_app:confirm", public_id=public_id)


class _NoSuchStatus(Exception):
    pass


def _subject_request(request, public_id) -> ForgetRequest:
    token = request.POST.get("t") if request.method == "POST" else request.GET.get("t")
    req = intake_selectors.forget_request_for_subject(public_id=public_id, token=token)
    if req is None:
        raise _NoSuchStatus
    return req


def _status_missing(request, public_id, *, sent: bool = False, http_status: int = 404):
    """The same page for an unknown id and a wrong, revoked or expired link: it offers a fresh link by e-mail."""
    context = {"public_id": public_id, "sent": sent, "link_days": settings.PALIMPSEST_STATUS_LINK_DAYS}
    return render(request, "requests_app/status_missing.html", context, status=http_status)


def subject_page(view):
    """A page behind the status token: a missing or bad token gets the 'link not valid' page (404)."""

    @wraps(view)
    def wrapped(request, public_id, *args, **kwargs):
        try:
            return view(request, public_id, *args, **kwargs)
        except _NoSuchStatus:
            return _status_missing(request, public_id)

    return wrapped


@never_cache
@subject_page
def status(request, public_id, reply_form=None, http_status=200):
    req = _subject_request(request, public_id)
    context = {
        "req": req,
        "token": current_status_token(req),
        "timeline": intake_selectors.status_timeline(req),
        "next_step": intake_selectors.NEXT_STEP.get(req.status, ""),
        "can_withdraw": intake_selectors.can_withdraw(req),
        "question": intake_selectors.open_question(req),
        "reply_form": reply_form or ReplyForm(),
        "item_count": req.items.count(),
        "link_days": settings.PALIMPSEST_STATUS_LINK_DAYS,
    }
    return render(request, "requests_app/status.html", context, status=http_status)


@require_POST
@subject_page
def revoke_links(request, public_id):
    """Stop every status link issued so far; a new one goes to the requester's address."""
    req = _subject_request(request, public_id)
    status_links.forget_request_status_links_revoke(public_id=req.public_id)
    messages.success(
        request,
        "Every earlier link to your request has stopped working, this one included. "
        "We have e-mailed you a new one.",
    )
    return redirect("requests_app:home")


@never_cache
@require_POST
def new_link(request, public_id):
    """E-mail a fresh status link to the requester; the page says the same whether the id exists or not."""
    try:
        status_links.forget_request_status_link_send(
            public_id=public_id, client_ip=ratelimit.client_ip(request)
        )
    except ratelimit.RateLimited as error:
        messages.error(request, error.message)
        return _status_missing(request, public_id, http_status=429)
    return _status_missing(request, public_id, sent=True, http_status=200)


@require_POST
@subject_page
def withdraw(request, public_id):
    req = _subject_request(request, public_id)
    try:
        req = intake_services.forget_request_withdraw(public_id=req.public_id)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your request is withdrawn. The texts you sent have been deleted.")
    return redirect(status_path(req))


@require_POST
@subject_page
def reply(request, public_id):
    req = _subject_request(request, public_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            intake_services.forget_request_reply(public_id=req.public_id, body=form.cleaned_data["body"])
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, "Thank you: we have your answer and are checking your request again.")
            return redirect(status_path(req))
    return status(request, public_id, reply_form=form, http_status=400)
