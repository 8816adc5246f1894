"""API authentication for integrations: `Authorization: Token <key>`, a key kept only as its sha256."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

from requests_app.intake import ratelimit
from requests_app.staff import services


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Token <key>'.")
        client_ip = ratelimit.client_ip(request)
        if services.signin_refusal(username="", client_ip=client_ip):
            raise exceptions.AuthenticationFailed("Too many failed sign-ins from this address.")
        user = services.api_token_user(parts[1].decode("latin-1"))
        if user is None:
            services.signin_failed(username="", client_ip=client_ip, user_id=None, reason="token")
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return user, None

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the token (registered by being defined)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
