"""REST framework glue: one error shape ({"error": ...}) for every API refusal, and a JSON parser that
refuses hostile nesting with a 400 instead of a RecursionError (a 500)."""

from rest_framework import exceptions, status
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
    return response
