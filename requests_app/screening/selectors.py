"""Reads of the screening stage: requests whose screening stalled, and the persisted near-duplicate index."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from palimpsest.personal import personal_hash
from requests_app.models import ForgetItem, ForgetRequest, Status
from requests_app.screening.checks import IndexedItem, ItemRef
from requests_app.screening.checks.dedupe import requester_key, signature_from_bytes
from requests_app.screening.models import NearDuplicateBand, NearDuplicateSignature

# Screening that never started (broker down at confirmation) or died: the sweep sends it again.
SCREENING_STALL = {Status.VERIFIED: timedelta(minutes=5), Status.SCREENING: timedelta(minutes=30)}


def forget_requests_stalled_in_screening(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    stalled: list[int] = []
    for status, patience in SCREENING_STALL.items():
        stalled += ForgetRequest.objects.filter(status=status, updated_at__lt=now - patience).values_list(
            "pk", flat=True
        )
    return sorted(stalled)


class DatabaseDuplicateIndex:
    """The persisted index: items of every other request, found by sha256 or a shared LSH band."""

    def __init__(self, *, exclude_request_id: int):
        self.exclude_request_id = exclude_request_id

    def exact(self, sha256s: Sequence[str]) -> dict[str, list[ItemRef]]:
        found: dict[str, list[ItemRef]] = {}
        rows = (
            ForgetItem.objects.filter(sha256__in=set(sha256s))
            .exclude(request_id=self.exclude_request_id)
            .values_list("pk", "request_id", "request__status", "sha256", "request__requester_email")
        )
        for pk, request_id, status, digest, email in rows:
            found.setdefault(digest, []).append(ItemRef(pk, request_id, status, _requester(email)))
        return found

    def candidates(self, keys_per_item: Sequence[list[int]]) -> list[IndexedItem]:
        wanted: dict[int, set[int]] = {}
        for keys in keys_per_item:
            for band, key in enumerate(keys):
                wanted.setdefault(band, set()).add(key)
        if not wanted:
            return []
        query = Q()
        for band, keys in wanted.items():
            query |= Q(band=band, key__in=keys)
        signature_ids = NearDuplicateBand.objects.filter(query).values("signature_id")
        rows = (
            NearDuplicateSignature.objects.filter(pk__in=signature_ids)
            .exclude(request_id=self.exclude_request_id)
            .values_list(
                "item_id", "request_id", "request__status", "sha256", "signature", "request__requester_email"
            )
        )
        return [
            IndexedItem(
                ItemRef(item_id, request_id, status, _requester(email)),
                digest,
                signature_from_bytes(bytes(raw)),
            )
            for item_id, request_id, status, digest, raw, email in rows
        ]


def _requester(email: str) -> str:
    return requester_key(email, personal_hash)
