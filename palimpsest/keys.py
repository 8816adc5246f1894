"""Where the platform's signing key is kept: PALIMPSEST_SIGNING_KEY (base64 of a 32-byte Ed25519 seed)
or, when that is empty, a key file under var/ created on first use (embedded mode and tests only:
production settings require the environment variable)."""

import base64
import binascii
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from palimpsest.signing import Ed25519PrivateKey, new_seed, private_key_from_seed, public_key_bytes


def _decode(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be base64.") from None


def _seed_from_file(path: Path) -> bytes:
    if path.is_file():
        return _decode(str(path), path.read_text(encoding="ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = new_seed()
    # Written once, readable by the owner only; a concurrent first use keeps whichever file won.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(seed).decode("ascii"))
    return seed


def signing_key() -> Ed25519PrivateKey:
    configured = settings.PALIMPSEST_SIGNING_KEY
    if configured:
        seed = _decode("PALIMPSEST_SIGNING_KEY", configured)
    else:
        try:
            seed = _seed_from_file(Path(settings.PALIMPSEST_SIGNING_KEY_FILE))
        except FileExistsError:
            seed = _seed_from_file(Path(settings.PALIMPSEST_SIGNING_KEY_FILE))
    try:
        return private_key_from_seed(seed)
    except ValueError as error:
        raise ImproperlyConfigured(f"PALIMPSEST_SIGNING_KEY: {error}") from None


def trusted_public_keys() -> list[bytes]:
    """The current key's public half, and the public keys of earlier keys still trusted (rotation)."""
    keys = [public_key_bytes(signing_key())]
    keys += [_decode("PALIMPSEST_SIGNING_TRUSTED_KEYS", k) for k in settings.PALIMPSEST_SIGNING_TRUSTED_KEYS]
    return keys
