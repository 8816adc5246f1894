"""POST /api/v1/generate: the production model behind the suppression guard, for integrators holding
an API token an administrator issued. A prompt or an output the guard matches is refused (451), and
the refusal never repeats what matched."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from palimpsest.api import BoundedJSONParser, ErrorSerializer, error_responses
from requests_app.guard.services import guard_check
from requests_app.intake import ratelimit
from verification.generation.models import ApiToken
from verification.generation.services import api_token_authenticate
from verification.generation.serving import PRODUCTION, NoProductionModel

MAX_PROMPT_CHARS = 4000
MAX_NEW_TOKENS = 256


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; the request's `auth` is the ApiToken row."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return None
        token = api_token_authenticate(raw=raw.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API token.")
        return (None, token)

    def authenticate_header(self, request):
        return "Bearer"


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema names the bearer token (drf-spectacular finds this by the target class)."""

    target_class = TokenAuthentication
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")


class HasApiToken(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiToken)


class GenerateInput(serializers.Serializer):
    prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS, trim_whitespace=False)
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=MAX_NEW_TOKENS, default=32)
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, default=0.0)


class GenerateOutput(serializers.Serializer):
    text = serializers.CharField()
    model_version = serializers.IntegerField()


def _refused(part: str) -> Response:
    return Response(
        {
            "error": f"The {part} touches data that has been asked to be erased; it is refused.",
            "refused": part,
        },
        status=status.HTTP_451_UNAVAILABLE_FOR_LEGAL_REASONS,
    )


class GenerateApi(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [HasApiToken]
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        request=GenerateInput,
        responses={
            200: GenerateOutput,
            **error_responses(
                400, 401, 403, 415, 429, e429="Too many calls with this token; see retry_after."
            ),
            451: OpenApiResponse(
                ErrorSerializer, description="The prompt or the output matches the suppression guard."
            ),
            503: OpenApiResponse(ErrorSerializer, description="No model version is published."),
        },
    )
    def post(self, request):
        try:
            ratelimit.hit("generate-token", str(request.auth.pk))
        except ratelimit.RateLimited as error:
            return Response(
                {"error": error.message, "retry_after": error.retry_after},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        data = GenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        prompt = data.validated_data["prompt"]
        if guard_check(prompt):
            return _refused("prompt")
        try:
            version, text = PRODUCTION.generate(
                prompt=prompt,
                max_new_tokens=data.validated_data["max_new_tokens"],
                temperature=data.validated_data["temperature"],
            )
        except NoProductionModel as error:
            return Response({"error": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if guard_check(text) or guard_check(prompt + text):
            return _refused("output")
        return Response({"text": text, "model_version": version})
