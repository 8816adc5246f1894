"""Fixed-window rate limits in the shared cache (Redis in production), keyed by IP or e-mail hash."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_hex

# (allowed hits, window in seconds); settings.PALIMPSEST_RATE_LIMITS overrides any of them.
DEFAULT_LIMITS = {
    "submit-ip": (10, 3600),
    "submit-email": (5, 24 * 3600),
    "confirm-ip": (30, 3600),
    "resend-ip": (10, 3600),
    # Calls of the generation API per token.
    "generate-token": (60, 60),
}


class RateLimited(ApplicationError):
    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many attempts from here. Please try again in about {minutes} minute{'s' * (minutes != 1)}."
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: int


def rule(name: str) -> Rule:
    limit, window = {**DEFAULT_LIMITS, **settings.PALIMPSEST_RATE_LIMITS}[name]
    return Rule(name, limit, window)


def hit(name: str, identity: str) -> None:
    """Count one attempt; raise RateLimited once the window's allowance is used up."""
    current = rule(name)
    window_start = int(time.time()) // current.window * current.window
    # Hash the identity: cache keys must not carry an e-mail address or an IP in the clear.
    key = f"ratelimit:{current.name}:{sha256_hex(identity.strip().lower())}:{window_start}"
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
