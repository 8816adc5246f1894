"""Typed readers for environment variables (settings are configured by the environment only)."""

import os


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise RuntimeError(f"{name} must be a boolean (true/false), not {raw!r}.")


def env_int(name: str, *, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be an integer, not {raw!r}.") from None


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_rate_limits(name: str) -> dict[str, tuple[int, int]]:
    """ "rule=hits/seconds,..." -> {rule: (hits, seconds)}; empty when unset."""
    limits = {}
    for part in env_list(name, default=[]):
        rule, _, value = part.partition("=")
        hits, _, seconds = value.partition("/")
        try:
            limits[rule.strip()] = (int(hits), int(seconds))
        except ValueError:
            raise RuntimeError(f"{name} entries look like 'submit-ip=10/3600', not {part!r}.") from None
    return limits
