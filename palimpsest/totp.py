"""Time-based one-time passwords (RFC 6238 over RFC 4226: HMAC-SHA1, 30-second steps, 6 digits), the
staff's second factor. No Django: secrets are base32 strings, moments are Unix seconds."""

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6


def base32_secret(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def new_secret() -> str:
    """160 random bits, the key length RFC 4226 recommends."""
    return base32_secret(secrets.token_bytes(20))


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def code_for_step(secret: str, step: int, *, digits: int = DIGITS) -> str:
    mac = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**digits:0{digits}d}"


def step_at(moment: float) -> int:
    return int(moment // STEP_SECONDS)


def code_at(secret: str, moment: float, *, digits: int = DIGITS) -> str:
    return code_for_step(secret, step_at(moment), digits=digits)


def matching_step(secret: str, code: str, moment: float, *, drift_steps: int = 1) -> int | None:
    """The time step whose code `code` is (one step of clock drift either way), or None."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = step_at(moment)
    found = None
    for step in range(now - drift_steps, now + drift_steps + 1):
        if hmac.compare_digest(code_for_step(secret, step), code):
            found = step
    return found


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read (as a QR code or pasted)."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    return f"otpauth://totp/{label}?{urlencode({'secret': secret, 'issuer': issuer})}"
