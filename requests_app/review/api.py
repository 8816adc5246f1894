"""Review API for integrations (/api/v1/): the queue, and decisions on one request, for officers only."""

from django.core.paginator import Paginator
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, PermissionDenied, UnsupportedMediaType
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from palimpsest.api import BoundedJSONParser
from palimpsest.errors import ApplicationError
from requests_app.models import DecisionKind, ForgetRequest, RequestKind
from requests_app.review import policy
from requests_app.review import selectors as review_selectors
from requests_app.review import services as review_services
from requests_app.review.selectors import REVIEW_STATUSES, RISK_LEVELS, QueueFilters
from requests_app.staff.auth import ApiTokenAuthentication

PAGE_SIZE = 50


class CanDecide(BasePermission):
    message = "You do not have the right to decide forget requests."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(policy.DECIDE_PERMISSION)


class OfficerAPIView(APIView):
    """Tokens for integrations, or the officer's session with its CSRF token; JSON bodies only. No HTTP
    Basic (browsers replay it cross-site, with no CSRF check) and no form bodies (which another site can
    make a browser send without a preflight). The token scheme comes first, so that an anonymous call gets
    401 with a WWW-Authenticate challenge, not 403."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, CanDecide]
    parser_classes = [BoundedJSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, UnsupportedMediaType):
            exc = UnsupportedMediaType(
                self.request.content_type,
                detail="The review API takes JSON only: send Content-Type: application/json.",
            )
        return super().handle_exception(exc)


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
            OpenApiParameter("page", int),
        ],
        responses=QueueSerializer,
    )
    def get(self, request):
        params = request.query_params
        filters = QueueFilters(
            risk=params.get("risk", ""),
            status=params.get("status", ""),
            kind=params.get("kind", ""),
            overdue=params.get("overdue", "").lower() in ("1", "true", "yes"),
        )
        page = Paginator(review_selectors.review_queue(filters=filters), PAGE_SIZE).get_page(
            params.get("page")
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
        responses={200: DecisionOutputSerializer},
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
