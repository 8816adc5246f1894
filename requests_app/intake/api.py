"""Public API of the portal (/api/v1/forget-requests/): thin views, a service each, JSON errors only."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from palimpsest.api import BoundedJSONParser, error_responses
from requests_app.intake import parsing, ratelimit, serializers
from requests_app.intake import selectors as intake_selectors
from requests_app.intake import services as intake_services
from requests_app.models import Channel, ForgetRequest

ERRORS = error_responses(400, 404, 415, 429, e404="No such request, or a wrong token.")
TOKEN = OpenApiParameter(
    "t", str, OpenApiParameter.QUERY, description="The status token (from the status URL)."
)


class NotFound(Exception):
    pass


class PublicAPIView(APIView):
    """No login: the status token or the e-mailed code is the credential. Errors are {"error": ...}."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]

    def handle_exception(self, exc):
        if isinstance(exc, ratelimit.RateLimited):
            return Response(
                {"error": exc.message, "retry_after": exc.retry_after},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if isinstance(exc, NotFound | ForgetRequest.DoesNotExist):
            return Response({"error": "No such request."}, status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
            return _too_large()
        return super().handle_exception(exc)

    def valid(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        if not serializer.is_valid():
            raise exceptions.ValidationError(serializer.errors)
        return serializer.validated_data

    def subject_request(self, public_id, token) -> ForgetRequest:
        req = intake_selectors.forget_request_for_subject(public_id=public_id, token=token)
        if req is None:
            raise NotFound
        return req


def _too_large() -> Response:
    lim = parsing.limits()
    return Response(
        {
            "error": f"The request body is too large (at most {lim.max_files} files of {lim.max_file_bytes:,} bytes)."
        },
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class ForgetRequestCreateApi(PublicAPIView):
    @extend_schema(
        operation_id="forget_request_create",
        summary="Submit a forget request",
        description=(
            "Stores the request as `submitted` and e-mails a six-digit code; confirm it with /verify, which "
            "answers with the status URL (never handed out before the e-mail address is confirmed)."
        ),
        request={
            "application/json": serializers.ForgetRequestCreateSerializer,
            "multipart/form-data": serializers.ForgetRequestCreateMultipartSerializer,
        },
        responses={
            201: serializers.ForgetRequestCreatedSerializer,
            **error_responses(400, 413, 415, 429),
        },
        tags=["forget requests"],
    )
    def post(self, request):
        if parsing.declared_body_too_large(request.META):
            return _too_large()
        multipart = request.content_type.startswith("multipart/")
        data = self.valid(
            serializers.ForgetRequestCreateMultipartSerializer
            if multipart
            else serializers.ForgetRequestCreateSerializer
        )
        examples = [(e["question"], e.get("answer", "")) for e in data.get("examples") or []]
        submission = intake_services.forget_request_submit_fields(
            data, examples=examples, channel=Channel.API, client_ip=ratelimit.client_ip(request)
        )
        return Response(serializers.created_payload(submission.request), status=status.HTTP_201_CREATED)


class ForgetRequestVerifyApi(PublicAPIView):
    @extend_schema(
        operation_id="forget_request_verify",
        summary="Confirm the e-mail address",
        description="With the six-digit code (5 wrong tries lock it; valid 24 hours) or the link token.",
        request=serializers.VerifySerializer,
        responses={200: serializers.ForgetRequestVerifiedSerializer, **ERRORS},
        tags=["forget requests"],
    )
    def post(self, request, id):
        data = self.valid(serializers.VerifySerializer)
        ratelimit.hit("confirm-ip", ratelimit.client_ip(request))
        req = intake_services.forget_request_confirm(
            public_id=id, code=data["code"], link_token=data["link_token"]
        )
        return Response(serializers.verified_payload(req))


class ForgetRequestDetailApi(PublicAPIView):
    @extend_schema(
        operation_id="forget_request_status",
        summary="Where a request stands",
        parameters=[TOKEN],
        responses={200: serializers.ForgetRequestStatusSerializer, 404: ERRORS[404]},
        tags=["forget requests"],
    )
    def get(self, request, id):
        req = self.subject_request(id, request.query_params.get("t"))
        return Response(serializers.status_payload(req))


class ForgetRequestCancelApi(PublicAPIView):
    @extend_schema(
        operation_id="forget_request_cancel",
        summary="Withdraw a request",
        description="Allowed until unlearning starts; the submitted texts are deleted at once.",
        request=serializers.TokenSerializer,
        responses={200: serializers.ForgetRequestStatusSerializer, **ERRORS},
        tags=["forget requests"],
    )
    def post(self, request, id):
        data = self.valid(serializers.TokenSerializer)
        req = self.subject_request(id, data["token"])
        req = intake_services.forget_request_withdraw(public_id=req.public_id)
        return Response(serializers.status_payload(req))
