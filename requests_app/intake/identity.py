"""Secrets of the identity check and the status page: made at random or derived by HMAC, kept hashed.

The status-page token is an HMAC, keyed by SECRET_KEY, of the public id, the request's link generation and
the moment it was issued (which the token carries): never stored, so every e-mail rebuilds a fresh link; it
expires after PALIMPSEST_STATUS_LINK_DAYS, and bumping the generation revokes every link issued before.
SECRET_KEY_FALLBACKS keep old links working after a key rotation.
"""

import base64
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
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


def _status_mac(public_id, generation: int, issued: int, secret: str) -> str:
    digest = salted_hmac(
        _STATUS_SALT, f"{public_id}:{generation}:{issued}", secret=secret, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def status_token(
    public_id, *, generation: int = 0, issued_at: datetime | None = None, secret: str | None = None
) -> str:
    """`<issued, base 36>.<mac>`: the request's status-page credential, valid from `issued_at` on."""
    issued = int((issued_at or timezone.now()).timestamp())
    return f"{_base36(issued)}.{_status_mac(public_id, generation, issued, secret or settings.SECRET_KEY)}"


def status_link_lifetime() -> timedelta:
    return timedelta(days=settings.PALIMPSEST_STATUS_LINK_DAYS)


def status_token_valid(public_id, token: str | None, *, generation: int = 0) -> bool:
    """Right for this request and this generation of its links, and not expired."""
    stamp, _, mac = (token or "").partition(".")
    if not mac or len(token) > 100:
        return False
    try:
        issued = int(stamp, 36)
    except ValueError:
        return False
    now = timezone.now().timestamp()
    # A token from the future (beyond clock skew) was not issued by us.
    if not (now - status_link_lifetime().total_seconds() <= issued <= now + 300):
        return False
    found = False
    for key in _keys():
        found |= hmac.compare_digest(_status_mac(public_id, generation, issued, key), mac)
    return found


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
