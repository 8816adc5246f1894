"""Content-Security-Policy: every response may load scripts, styles, images and fonts from this origin
only; a script that must stay inline carries the response's nonce (`{{ csp_nonce }}` in templates)."""

import secrets

POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", POLICY.format(nonce=request.csp_nonce))
        return response


def csp_nonce(request) -> dict:
    """Template context: the nonce of this response."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
