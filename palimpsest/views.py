"""Project-level views: the health check used by compose and load balancers, and the error pages, which
answer JSON under /api/ (an API client never gets an HTML page it cannot read)."""

from django.db import connection
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET

API_PREFIX = "/api/"


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _api_error(request, status: int, message: str):
    return JsonResponse({"error": message}, status=status) if request.path.startswith(API_PREFIX) else None


def bad_request(request, exception):
    return _api_error(request, 400, "The request is malformed.") or defaults.bad_request(request, exception)


def permission_denied(request, exception):
    return _api_error(request, 403, "You may not do this.") or defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    return _api_error(request, 404, "There is nothing at this address.") or defaults.page_not_found(
        request, exception
    )


def server_error(request):
    return _api_error(request, 500, "Something went wrong on our side.") or defaults.server_error(request)
