"""The base of every staff API view (review, jobs): tokens for integrations, or the staff member's session
with its CSRF token; JSON bodies only.

No HTTP Basic (browsers replay it cross-site, with no CSRF check) and no form bodies (which another site
can make a browser send without a preflight). The token scheme comes first, so that an anonymous call
gets 401 with a WWW-Authenticate challenge, not 403."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from palimpsest.api import BoundedJSONParser
from requests_app.staff.auth import ApiTokenAuthentication


class StaffAPIView(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, UnsupportedMediaType):
            exc = UnsupportedMediaType(
                self.request.content_type,
                detail="The staff API takes JSON only: send Content-Type: application/json.",
            )
        return super().handle_exception(exc)
