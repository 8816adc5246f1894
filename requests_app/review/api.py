"""Review API for integrations (/api/v1/): the queue, and decisions on one request, for officers only."""

from django.core.paginator import Paginator
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from palimpsest.api import PAGE_PARAMETER, error_responses, query_bool, query_choice, query_page
from palimpsest.errors import ApplicationError
from requests_app.models import DecisionKind, ForgetRequest, RequestKind
from requests_app.review import policy
from requests_app.review import selectors as review_selectors
from requests_app.review import services as review_services
from requests_app.review.selectors import REVIEW_STATUSES, RISK_LEVELS, QueueFilters
from requests_app.staff.api import StaffAPIView

PAGE_SIZE = 50


class CanDecide(BasePermission):
    message = "You do not have the right to decide forget requests."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(policy.DECIDE_PERMISSION)


class OfficerAPIView(StaffAPIView):
    permission_classes = [IsAuthenticated, CanDecide]


class QueueRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="request.public_id")
    status = serializers.CharField(source="request.status")
    kind = serializers.CharField(source="request.kind")
    due_at = serializers.DateTimeField(source="request.due_at", allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    overdue = serializers.BooleanField()
    risk = serializers.CharField()
    item_count = serializers.IntegerField()
    approvals = serializers.IntegerField(source="live_votes")
    screening = serializers.CharField(source="summary")
    version = serializers.IntegerField(
        help_text="Send it back with an approval to refuse it if the request moved."
    )


class QueueSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = QueueRowSerializer(many=True)


class ReviewQueueApi(OfficerAPIView):
    @extend_schema(
        summary="Open requests awaiting review, soonest deadline first",
        parameters=[
            OpenApiParameter("risk", str, enum=list(RISK_LEVELS)),
            OpenApiParameter("status", str, enum=[str(s) for s in REVIEW_STATUSES]),
            OpenApiParameter("kind", str, enum=list(RequestKind.values)),
            OpenApiParameter("overdue", bool),
            PAGE_PARAMETER,
        ],
        responses={200: QueueSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        params = request.query_params
        filters = QueueFilters(
            risk=query_choice(params, "risk", RISK_LEVELS),
            status=query_choice(params, "status", REVIEW_STATUSES),
            kind=query_choice(params, "kind", RequestKind.values),
            overdue=query_bool(params, "overdue"),
        )
        page = Paginator(review_selectors.review_queue(filters=filters), PAGE_SIZE).get_page(
            query_page(params)
        )
        rows = review_selectors.queue_rows(page.object_list, now=timezone.now())
        body = {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "results": QueueRowSerializer(rows, many=True).data,
        }
        return Response(body)


class DecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DecisionKind.values)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    exception = serializers.ChoiceField(
        required=False, allow_blank=True, default="", choices=list(policy.REJECTION_EXCEPTIONS)
    )
    question = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    new_due_at = serializers.DateTimeField(required=False)
    version = serializers.IntegerField(
        required=False,
        help_text="For approve: the version the caller looked at (from the queue); refused if it moved since.",
    )


class DecisionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    approved = serializers.BooleanField(required=False)
    approvals = serializers.IntegerField(required=False)
    approvals_needed = serializers.IntegerField(required=False)


class DecisionApi(OfficerAPIView):
    @extend_schema(
        summary="Decide a request: approve, reject (reason), needs_info (question) or extend (new_due_at, reason)",
        request=DecisionInputSerializer,
        responses={200: DecisionOutputSerializer, **error_responses(400, 401, 403, 404, 415)},
    )
    def post(self, request, id):
        data = _valid(DecisionInputSerializer, request.data)
        req = ForgetRequest.objects.filter(public_id=id).first()
        if req is None:
            raise NotFound("No such request.")
        officer, decision = request.user, data["decision"]
        body = {}
        if decision == DecisionKind.APPROVE:
            outcome = review_services.forget_request_approve(
                request_id=req.pk, officer=officer, seen_version=data.get("version")
            )
            req = outcome.request
            body = {
                "approved": outcome.approved,
                "approvals": outcome.votes,
                "approvals_needed": outcome.votes_needed,
            }
        elif decision == DecisionKind.REJECT:
            req = review_services.forget_request_reject(
                request_id=req.pk, officer=officer, reason=data["reason"], exception=data["exception"]
            )
        elif decision == DecisionKind.NEEDS_INFO:
            req = review_services.forget_request_needs_info(
                request_id=req.pk, officer=officer, question=data["question"]
            )
        else:
            if not officer.has_perm(policy.EXTEND_PERMISSION):
                raise PermissionDenied("You do not have the right to extend deadlines.")
            if "new_due_at" not in data:
                raise ApplicationError("Give the new deadline (new_due_at).", field="new_due_at")
            req = review_services.forget_request_extend_deadline(
                request_id=req.pk, officer=officer, new_due_at=data["new_due_at"], reason=data["reason"]
            ).request
        return Response(
            {"id": req.public_id, "status": req.status, "due_at": req.due_at, **body},
            status=status.HTTP_200_OK,
        )


def _valid(serializer_class, payload) -> dict:
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise ApplicationError(f"{field}: {' '.join(str(p) for p in problems)}", field=field)
    return serializer.validated_data
