"""The one hash of personal data: HMAC-SHA256 keyed by PALIMPSEST_PEPPER.

Item texts, reasons, questions, notes, replies, rate-limit identities: anything a person wrote or is.
A plain SHA-256 of a short value (a phone number, a one-line reason) is reversed by hashing every
candidate; without the pepper (kept outside the database) nobody can test a guess.
"""

from django.conf import settings

from palimpsest.hashing import hmac_sha256_hex


def personal_hash(value: str) -> str:
    return hmac_sha256_hex(settings.PALIMPSEST_PEPPER, value)
