"""Plain builders for test data (real rows in the real database)."""

from palimpsest.hashing import sha256_hex
from requests_app.models import ForgetItem, ForgetRequest, LegalGround, RequestKind, Status


def make_request(
    *,
    status: Status = Status.SUBMITTED,
    texts: tuple[str, ...] = ("Ana Vell lives at 4 Quay Road.",),
    **fields,
) -> ForgetRequest:
    defaults = {
        "kind": RequestKind.CORPUS,
        "requester_name": "Ana Vell",
        "requester_email": "ana.vell@example.org",
        "jurisdiction": "DE",
        "legal_ground": LegalGround.CONSENT_WITHDRAWN,
        "status": status,
    }
    req = ForgetRequest.objects.create(**{**defaults, **fields})
    for position, text in enumerate(texts):
        ForgetItem.objects.create(
            request=req,
            position=position,
            text=text,
            sha256=sha256_hex(text),
            source="pasted",
            char_count=len(text),
        )
    return req
