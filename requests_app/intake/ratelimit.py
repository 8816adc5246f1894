"""Fixed-window rate limits in the shared cache (Redis in production), keyed by IP or e-mail hash."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from palimpsest.errors import ApplicationError
from palimpsest.personal import personal_hash

# (allowed hits, window in seconds); settings.PALIMPSEST_RATE_LIMITS overrides any of them.
DEFAULT_LIMITS = {
    "submit-ip": (10, 3600),
    "submit-email": (5, 24 * 3600),
    "confirm-ip": (30, 3600),
    "resend-ip": (10, 3600),
    # A fresh status link by e-mail: per client address, and per request (its inbox is not to be bombed).
    "status-link-ip": (10, 3600),
    "status-link-request": (3, 24 * 3600),
    # Failed staff sign-ins (password or second factor): per account, and per client address.
    "login-user": (5, 15 * 60),
    "login-ip": (20, 15 * 60),
    # Calls of the generation API per token.
    "generate-token": (60, 60),
}


def in_minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' * (minutes != 1)}"


class RateLimited(ApplicationError):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many attempts from here. Please try again in {in_minutes(retry_after)}.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: int


def rule(name: str) -> Rule:
    limit, window = {**DEFAULT_LIMITS, **settings.PALIMPSEST_RATE_LIMITS}[name]
    return Rule(name, limit, window)


def _window(name: str, identity: str) -> tuple[Rule, int, str]:
    current = rule(name)
    window_start = int(time.time()) // current.window * current.window
    # Hash the identity: cache keys must not carry an e-mail address or an IP in the clear.
    key = f"ratelimit:{current.name}:{personal_hash(identity.strip().lower())}:{window_start}"
    return current, window_start, key


def blocked(name: str, identity: str) -> int | None:
    """Seconds until the allowance comes back when it is used up (without counting an attempt), else None."""
    current, window_start, key = _window(name, identity)
    if (cache.get(key) or 0) >= current.limit:
        return max(1, window_start + current.window - int(time.time()))
    return None


def hit(name: str, identity: str) -> None:
    """Count one attempt; raise RateLimited once the window's allowance is used up."""
    current, window_start, key = _window(name, identity)
    cache.add(key, 0, timeout=current.window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=current.window + 5)
        count = 1
    if count > current.limit:
        raise RateLimited(retry_after=window_start + current.window - int(time.time()))


def client_ip(request) -> str:
    """REMOTE_ADDR, or the n-th address from the right of X-Forwarded-For behind n trusted proxies."""
    proxies = settings.PALIMPSEST_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
