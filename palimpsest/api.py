"""REST framework glue: one error shape ({"error": ...}) for every API refusal, documented in the schema
for every status an operation can answer, and a JSON parser that refuses hostile nesting with a 400
instead of a RecursionError (a 500)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from palimpsest.errors import ApplicationError

# No request body of the API nests deeper than a few levels; a hostile one may nest hundreds of thousands.
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` deep (iterative: no recursion to exhaust)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a depth limit: a deeper body is a 400 that says so."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = exceptions.ParseError(
            f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels of lists and objects)."
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep
        return data


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What is wrong, in words a person can read.")
    field = serializers.CharField(required=False, help_text="The input field at fault, when there is one.")
    fields = serializers.DictField(required=False, help_text="Per-field messages, for malformed input.")
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (429 only).")


ERROR_DESCRIPTIONS = {
    400: "Invalid input, or a rule refused it; nothing was saved.",
    401: "No credentials, or wrong or revoked ones.",
    403: "This account may not do this (or has not proved its second factor).",
    404: "No such object.",
    413: "The body is too large.",
    415: "The body is not in a media type the operation takes (or is malformed multipart).",
    429: "Too many attempts; see retry_after.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """The schema of the {"error": ...} answers an operation gives; `e404="..."` words one differently."""
    return {
        code: OpenApiResponse(
            ErrorSerializer, description=descriptions.get(f"e{code}", ERROR_DESCRIPTIONS[code])
        )
        for code in codes
    }


# The answer to a query parameter of the wrong type is a 400 naming it, never a silent default.
PAGE_PARAMETER = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1},
    description="Page number, from 1 (past the end: the last page).",
)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def query_page(params) -> int:
    raw = params.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= 1):
        raise ApplicationError("page must be a whole number from 1.", field="page")
    return int(raw)


def query_choice(params, name: str, choices) -> str:
    """The value of an enum parameter, or "" when it is absent (given empty, it is refused)."""
    value = params.get(name)
    if value is None:
        return ""
    if value not in choices:
        raise ApplicationError(f"{name} must be one of {', '.join(map(str, choices))}.", field=name)
    return value


def query_bool(params, name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in _TRUE + _FALSE:
        raise ApplicationError(f"{name} must be true or false.", field=name)
    return value in _TRUE


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        body = {"error": exc.message}
        if exc.field:
            body["field"] = exc.field
        body.update(exc.extra)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        if not isinstance(exc.detail, dict | list):
            response.data = {"error": str(exc.detail)}
        elif isinstance(exc, exceptions.ValidationError) and "error" not in exc.detail:
            fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            response.data = {"error": "Some fields are missing or not valid.", "fields": fields}
    return response
