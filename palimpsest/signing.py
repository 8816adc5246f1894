"""Signed JSON documents (verification reports, erasure certificates): Ed25519 over the canonical JSON
of the document, so that anyone holding the platform's public key can check that not a byte changed.

No Django: the key comes in as bytes; `palimpsest.keys` (Django side) says where it is kept.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from palimpsest.hashing import canonical_json, sha256_hex

ALGORITHM = "Ed25519"
FORMAT = "palimpsest-signed/1"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    """A short name of a public key: the first 16 hex digits of its sha256."""
    return sha256_hex(public_raw)[:16]


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise ValueError("an Ed25519 private key is a 32-byte seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def new_seed() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def sign_document(document: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The document with its signature: {"format", "document", "signature": {algorithm, key_id,
    public_key, value}}. The signature covers the canonical JSON of `document` only."""
    public_raw = public_key_bytes(private_key)
    value = private_key.sign(canonical_json(document).encode("utf-8"))
    return {
        "format": FORMAT,
        "document": document,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(public_raw),
            "public_key": _b64(public_raw),
            "value": _b64(value),
        },
    }


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str
    key_id: str = ""

    def __bool__(self) -> bool:
        return self.valid


def verify_document(signed: Any, *, trusted_public_keys: list[bytes]) -> Verdict:
    """Check a signed document against the keys the checker trusts (never against the key the file
    carries: anyone can sign a forged report with a key of their own)."""
    try:
        if signed.get("format") != FORMAT:
            return Verdict(False, f"not a signed Palimpsest document (format {signed.get('format')!r})")
        signature = signed["signature"]
        if signature.get("algorithm") != ALGORITHM:
            return Verdict(False, f"unknown signature algorithm {signature.get('algorithm')!r}")
        value = base64.b64decode(signature["value"], validate=True)
        document = signed["document"]
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        return Verdict(False, f"malformed signed document: {error}")
    wanted = signature.get("key_id", "")
    trusted = {key_id(raw): raw for raw in trusted_public_keys}
    if wanted not in trusted:
        return Verdict(False, f"signed with key {wanted or '(none)'}, which is not a trusted key", wanted)
    public_key = Ed25519PublicKey.from_public_bytes(trusted[wanted])
    try:
        public_key.verify(value, canonical_json(document).encode("utf-8"))
    except InvalidSignature:
        return Verdict(
            False, "the signature does not match the document: it was changed after signing", wanted
        )
    return Verdict(True, "the signature is valid", wanted)


def load_signed(text: str) -> Any:
    """Parse a signed document's JSON; a ValueError names what is wrong."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON: {error}") from None
