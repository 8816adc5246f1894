"""Secrets of the identity check and the status page: made at random or derived by HMAC, kept hashed.

The status-page token is an HMAC of the public id keyed by SECRET_KEY, so later e-mails can rebuild the
link without the token ever being stored; SECRET_KEY_FALLBACKS keep old links working after a rotation.
"""

import base64
import hmac
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

CODE_DIGITS = 6
_STATUS_SALT = "palimpsest.requests_app.status-page"
_CHECK_SALT = "palimpsest.requests_app.intake.identity-check"


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def _keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def secret_hash(value: str, *, public_id, secret: str | None = None) -> str:
    """HMAC-SHA256 of a code or link token, bound to one request so a hash is useless elsewhere."""
    return salted_hmac(
        f"{_CHECK_SALT}.{public_id}", value, secret=secret or settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def secret_matches(value: str, stored_hash: str, *, public_id) -> bool:
    # Compare every candidate in constant time, and do not stop at the first match.
    found = False
    for key in _keys():
        found |= hmac.compare_digest(secret_hash(value or "", public_id=public_id, secret=key), stored_hash)
    return found


def status_token(public_id, *, secret: str | None = None) -> str:
    digest = salted_hmac(
        _STATUS_SALT, str(public_id), secret=secret or settings.SECRET_KEY, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def status_token_valid(public_id, token: str | None) -> bool:
    if not token or len(token) > 100:
        return False
    found = False
    for key in _keys():
        found |= hmac.compare_digest(status_token(public_id, secret=key), token)
    return found
