"""Hashes and canonical JSON, shared by audit rows, manifests and items (no Django)."""

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any


def sha256_hex(value: str | bytes) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def hmac_sha256_hex(key: str | bytes, value: str | bytes) -> str:
    """A keyed hash: without the key, nobody can recompute it or test guesses against it."""
    key = key.encode("utf-8") if isinstance(key, str) else key
    data = value.encode("utf-8") if isinstance(value, str) else value
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def canonical_json(value: Any) -> str:
    """One byte-exact JSON form of a value, so that its hash is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
