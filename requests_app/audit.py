"""The audit log: append one event to the hash chain, and check the chain end to end.

Each hash is an HMAC-SHA256 keyed by PALIMPSEST_AUDIT_KEY (kept outside the database) over the previous
hash and the event, so someone who can write the database but lacks the key cannot rewrite the chain so
that it verifies. PostgreSQL refuses UPDATE and DELETE on the rows (migration 0012); the head is exported
outside the database by `audit_export`.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from palimpsest.hashing import canonical_json, hmac_sha256_hex
from requests_app.models import ActorKind, AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
# Keys that would carry personal data; audit rows hold ids, hashes and figures only.
_FORBIDDEN_KEYS = frozenset({"email", "name", "text", "address", "phone", "note", "reason", "question"})
_MAX_STRING = 128


@dataclass(frozen=True)
class Actor:
    kind: str
    user_id: int | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(ActorKind.SYSTEM)

    @classmethod
    def subject(cls) -> "Actor":
        return cls(ActorKind.SUBJECT)

    @classmethod
    def user(cls, user) -> "Actor":
        return cls(ActorKind.USER, user.pk)


def _check_no_personal_data(value, path: str = "data") -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).lower() in _FORBIDDEN_KEYS:
                raise ValueError(f"Audit {path}.{key}: store a hash (e.g. '{key}_sha256'), not the value.")
            _check_no_personal_data(inner, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            _check_no_personal_data(inner, f"{path}[{index}]")
    elif isinstance(value, str) and len(value) > _MAX_STRING:
        raise ValueError(f"Audit {path} is a long string: store its sha256 instead.")


def event_payload(
    *,
    seq: int,
    created_at,
    actor_kind: str,
    actor_user_id,
    action: str,
    object_type: str,
    object_id: str,
    data,
) -> str:
    return canonical_json(
        {
            "seq": seq,
            "created_at": created_at.isoformat(),
            "actor_kind": actor_kind,
            "actor_user_id": actor_user_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "data": data,
        }
    )


def chain_hash(prev_hash: str, payload: str, *, key: str | None = None) -> str:
    return hmac_sha256_hex(key or settings.PALIMPSEST_AUDIT_KEY, prev_hash + payload)


def stored_event_payload(event) -> str:
    """The payload of a stored event (any object with AuditEvent's fields, a migration's too)."""
    return event_payload(
        seq=event.seq,
        created_at=event.created_at,
        actor_kind=event.actor_kind,
        actor_user_id=event.actor_user_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        data=event.data,
    )


def _event_hash(event: AuditEvent, prev_hash: str) -> str:
    return chain_hash(prev_hash, stored_event_payload(event))


@transaction.atomic
def audit_append(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    data: dict | None = None,
) -> AuditEvent:
    data = dict(data or {})
    _check_no_personal_data(data)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
    # Writing the head row first takes its lock (PostgreSQL) or the write lock (SQLite) before we
    # read it, so concurrent appends queue up instead of forking the chain.
    AuditChainHead.objects.filter(pk=1).update(seq=models.F("seq") + 1)
    head = AuditChainHead.objects.select_for_update().get(pk=1)
    # Round-trip the data through JSON so the hash covers exactly what the database will return.
    data = json.loads(canonical_json(data))
    event = AuditEvent(
        seq=head.seq,
        created_at=timezone.now(),
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=data,
        prev_hash=head.hash,
    )
    event.hash = _event_hash(event, head.hash)
    event.save(force_insert=True)
    head.hash = event.hash
    head.save(update_fields=["hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    event_id: int | None
    message: str


def audit_chain_problems(*, chunk_size: int = 2000) -> Iterator[ChainProblem]:
    """Walk the chain in order; yield every row that was edited, deleted or reordered."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last_seq = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if event.seq != expected_seq:
            yield ChainProblem(
                event.seq, event.pk, f"row seq {expected_seq} is missing (deleted) before seq {event.seq}"
            )
        if event.prev_hash != prev_hash:
            yield ChainProblem(
                event.seq,
                event.pk,
                "its prev_hash does not match the row before it (a row was deleted or reordered)",
            )
        if _event_hash(event, event.prev_hash) != event.hash:
            yield ChainProblem(
                event.seq, event.pk, "its content does not match its hash (the row was edited)"
            )
        prev_hash = event.hash
        expected_seq = event.seq + 1
        last_seq = event.seq
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != last_seq or head.hash != prev_hash):
        yield ChainProblem(
            head.seq,
            None,
            f"the chain head says the last row is seq {head.seq}, but the log ends at seq {last_seq}",
        )


def audit_history(*, obj: models.Model) -> models.QuerySet:
    return AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("seq")
