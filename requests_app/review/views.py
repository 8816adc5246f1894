"""Review pages for compliance officers: thin views that parse a form, call one service, redirect."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from palimpsest.errors import ApplicationError
from requests_app.models import ForgetItem, ForgetRequest, ItemChoice, Status
from requests_app.review import policy
from requests_app.review import selectors as review_selectors
from requests_app.review import services as review_services
from requests_app.review.forms import (
    BulkDecisionForm,
    ExtendForm,
    ItemDecisionForm,
    NeedsInfoForm,
    QueueFilterForm,
    RejectForm,
)

PAGE_SIZE = 25


def officer_required(permission: str = policy.DECIDE_PERMISSION):
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


def _case_or_404(public_id) -> review_selectors.ReviewCase:
    try:
        return review_selectors.review_case(public_id=public_id)
    except ForgetRequest.DoesNotExist:
        raise Http404("No such request.") from None


def _request_or_404(public_id) -> ForgetRequest:
    req = ForgetRequest.objects.filter(public_id=public_id).first()
    if req is None:
        raise Http404("No such request.")
    return req


@require_GET
@officer_required()
def queue(request):
    filter_form = QueueFilterForm(request.GET or None)
    queryset = review_selectors.review_queue(filters=filter_form.filters())
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = review_selectors.queue_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "requests_app/review/queue.html",
        {
            "filter_form": filter_form,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "bulk_form": BulkDecisionForm(),
            "low_risk_on_page": any(
                row.risk == "low" and row.request.status == Status.IN_REVIEW for row in rows
            ),
        },
    )


@require_POST
@officer_required()
def bulk(request):
    ids = [int(v) for v in request.POST.getlist("request_ids") if v.isdigit()]
    form = BulkDecisionForm(request.POST, request_ids=ids)
    if not ids:
        messages.error(request, "Tick at least one low-risk request.")
    elif form.is_valid():
        data = form.cleaned_data
        try:
            outcomes = review_services.forget_requests_bulk_decide(
                request_ids=data["request_ids"],
                officer=request.user,
                decision=data["decision"],
                reason=data["reason"],
                exception=data["exception"],
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            done = [o for o in outcomes if o.done]
            if done:
                messages.success(request, f"{len(done)} request{'s' * (len(done) != 1)} {done[0].message}.")
            for outcome in outcomes:
                if not outcome.done:
                    messages.error(request, f"Request #{outcome.request_id}: {outcome.message}")
    else:
        messages.error(request, "Choose approve or reject.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("review:queue")
    return redirect(back)


def _render_case(request, public_id, *, status: int = 200, **forms):
    case = _case_or_404(public_id)
    req = case.request
    decide_refusal = policy.decision_refusal(request.user, req)
    context = {
        "case": case,
        "req": req,
        "decide_refusal": decide_refusal,
        "can_decide": decide_refusal is None and req.status == Status.IN_REVIEW,
        "can_extend": policy.decision_refusal(request.user, req, permission=policy.EXTEND_PERMISSION) is None
        and req.status in review_selectors.REVIEW_STATUSES,
        "already_voted": request.user.pk in case.voter_ids,
        "item_choices": ItemChoice.choices,
        "exception_texts": {key: text for key, (_, text) in policy.REJECTION_EXCEPTIONS.items()},
        "reject_form": forms.get("reject_form") or RejectForm(),
        "needs_info_form": forms.get("needs_info_form") or NeedsInfoForm(),
        "extend_form": forms.get("extend_form") or ExtendForm(),
    }
    return render(request, "requests_app/review/detail.html", context, status=status)


@require_GET
@officer_required()
def detail(request, public_id):
    return _render_case(request, public_id)


def _back(public_id):
    return redirect(reverse("review:detail", kwargs={"public_id": public_id}))


def _tell(request, call, success, *, refusal_prefix: str = ""):
    """Run one service call and tell the officer what came of it: the refusal, or `success(result)`."""
    try:
        result = call()
    except ApplicationError as error:
        messages.error(request, refusal_prefix + error.message)
    else:
        messages.success(request, success(result))


def _decide_with_form(request, public_id, form_class, form_name: str, call, success):
    """A decision that takes a form: an invalid form re-renders the case (400) with its errors."""
    req = _request_or_404(public_id)
    form = form_class(request.POST)
    if not form.is_valid():
        if not request.user.has_perm(policy.DECIDE_PERMISSION):
            # The case page is for those who decide; someone who may only extend sees the form's errors only.
            return render(request, "requests_app/review/form_errors.html", {"form": form}, status=400)
        return _render_case(request, public_id, status=400, **{form_name: form})
    _tell(request, lambda: call(req, form), success)
    return _back(public_id)


def _approval_message(outcome) -> str:
    if outcome.approved:
        return "Approved. Its items are now refused by the suppression guard and wait for unlearning."
    return (
        f"Your approval is recorded ({outcome.votes} of {outcome.votes_needed}). "
        "This is a high-risk request: a second, different officer must approve it too."
    )


@require_POST
@officer_required()
def approve(request, public_id):
    req = _request_or_404(public_id)
    seen = request.POST.get("version", "")
    _tell(
        request,
        lambda: review_services.forget_request_approve(
            request_id=req.pk, officer=request.user, seen_version=int(seen) if seen.isdigit() else None
        ),
        _approval_message,
    )
    return _back(public_id)


@require_POST
@officer_required()
def reject(request, public_id):
    return _decide_with_form(
        request,
        public_id,
        RejectForm,
        "reject_form",
        lambda req, form: review_services.forget_request_reject(
            request_id=req.pk,
            officer=request.user,
            reason=form.cleaned_data["reason"],
            exception=form.cleaned_data["exception"],
        ),
        lambda _: "Rejected. The requester is e-mailed the reason.",
    )


@require_POST
@officer_required()
def needs_info(request, public_id):
    return _decide_with_form(
        request,
        public_id,
        NeedsInfoForm,
        "needs_info_form",
        lambda req, form: review_services.forget_request_needs_info(
            request_id=req.pk, officer=request.user, question=form.cleaned_data["question"]
        ),
        lambda _: "The question is sent; the request waits for the requester's answer.",
    )


@require_POST
@officer_required(policy.EXTEND_PERMISSION)
def extend(request, public_id):
    return _decide_with_form(
        request,
        public_id,
        ExtendForm,
        "extend_form",
        lambda req, form: review_services.forget_request_extend_deadline(
            request_id=req.pk,
            officer=request.user,
            new_due_at=form.new_due_at(req.due_at),
            reason=form.cleaned_data["reason"],
        ),
        lambda extension: (
            f"The deadline is now {extension.request.due_at:%d %B %Y}. The requester is told why."
        ),
    )


def _item_or_404(public_id, item_id) -> ForgetItem:
    item = ForgetItem.objects.filter(pk=item_id, request__public_id=public_id).first()
    if item is None:
        raise Http404("No such item.")
    return item


def _back_to_item(public_id, item: ForgetItem):
    return redirect(reverse("review:detail", kwargs={"public_id": public_id}) + f"#item-{item.position + 1}")


@require_POST
@officer_required()
def item_decide(request, public_id, item_id):
    item = _item_or_404(public_id, item_id)
    form = ItemDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose include, exclude or drop for the item.")
        return _back(public_id)
    data = form.cleaned_data
    label = ItemChoice(data["choice"]).label
    _tell(
        request,
        lambda: review_services.forget_item_decide(
            item_id=item.pk, officer=request.user, choice=data["choice"], note=data["note"]
        ),
        lambda _: f"Item {item.position + 1}: {label[0].lower()}{label[1:]}.",
        refusal_prefix=f"Item {item.position + 1}: ",
    )
    return _back_to_item(public_id, item)


@require_POST
@officer_required()
def proposal_decide(request, public_id, item_id):
    item = _item_or_404(public_id, item_id)
    accept = request.POST.get("accept") == "1"
    verb = "accepted: it will be forgotten" if accept else "dropped: it will not be forgotten"
    _tell(
        request,
        lambda: review_services.forget_item_proposal_decide(
            item_id=item.pk, officer=request.user, accept=accept
        ),
        lambda _: f"Proposed item {item.position + 1} {verb}.",
        refusal_prefix=f"Item {item.position + 1}: ",
    )
    return _back_to_item(public_id, item)
