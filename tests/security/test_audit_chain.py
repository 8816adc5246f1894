"""The audit chain resists someone who can write the database: keyed (HMAC) so that a rewritten chain
does not verify, UPDATE and DELETE refused by PostgreSQL itself, the head exported outside the database,
and the periodic check alerting the administrators."""

import json

import pytest
from django.db import DatabaseError, connection, transaction

from palimpsest.hashing import sha256_hex
from requests_app import audit_export
from requests_app.audit import GENESIS_HASH, Actor, audit_append, audit_chain_problems, stored_event_payload
from requests_app.models import AuditChainHead, AuditEvent
from tests.requests_app.factories import make_request

pytestmark = pytest.mark.django_db


def _log(n: int) -> list[AuditEvent]:
    req = make_request()
    return [audit_append(actor=Actor.system(), action="test.event", obj=req, data={"n": i}) for i in range(n)]


def as_superuser(cursor) -> None:
    """What an attacker with the database's superuser can do: switch the table's triggers off."""
    cursor.execute("SET LOCAL session_replication_role = replica")


def rewrite_chain_without_the_key() -> None:
    """Recompute every hash the way an attacker who has the database but not the key would."""
    prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq"):
        payload = stored_event_payload(event)
        event.prev_hash, event.hash = prev, sha256_hex(prev + payload)
        with connection.cursor() as cursor:
            as_superuser(cursor)
            cursor.execute(
                "UPDATE requests_app_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [event.prev_hash, event.hash, event.pk],
            )
        prev = event.hash
    AuditChainHead.objects.filter(pk=1).update(hash=prev)


def test_a_chain_rewritten_without_the_key_does_not_verify():
    # Given a log, and an attacker who edits a row and recomputes the whole chain with plain SHA-256
    events = _log(4)
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute(
            "UPDATE requests_app_auditevent SET data = %s WHERE id = %s", ['{"n": 99}', events[1].pk]
        )
    rewrite_chain_without_the_key()
    # Then the check still finds every row wrong: it needs the key the attacker does not have
    problems = list(audit_chain_problems())
    assert problems and problems[0].seq == events[0].seq and "edited" in problems[0].message


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE requests_app_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM requests_app_auditevent WHERE id = %s",
    ],
)
def test_postgresql_refuses_to_change_or_delete_an_audit_row(sql):
    events = _log(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [events[0].pk])
    assert AuditEvent.objects.filter(pk=events[0].pk, action="test.event").exists()


def test_the_exported_head_catches_a_truncated_log(settings, tmp_path):
    # Given a log whose head was exported outside the database
    settings.PALIMPSEST_AUDIT_EXPORT = str(tmp_path / "heads.jsonl")
    events = _log(3)
    exported = audit_export.audit_head_export()
    line = json.loads((tmp_path / "heads.jsonl").read_text().splitlines()[-1])
    assert (line["seq"], line["hash"]) == (events[-1].seq, events[-1].hash) == (exported.seq, exported.hash)
    # When an attacker deletes the last rows and moves the head back (all consistent inside the database)
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute("DELETE FROM requests_app_auditevent WHERE seq > %s", [events[0].seq])
    AuditChainHead.objects.filter(pk=1).update(seq=events[0].seq, hash=events[0].hash)
    assert list(audit_chain_problems()) == []
    # Then the check against the export names it
    problems = audit_export.audit_problems()
    assert any("exported" in p.message for p in problems)


def test_the_periodic_check_alerts_the_administrators(settings, tmp_path, mailoutbox, caplog):
    settings.PALIMPSEST_AUDIT_EXPORT = str(tmp_path / "heads.jsonl")
    settings.ADMINS = [("Security", "security@example.org")]
    events = _log(3)
    # A clean run exports the head and alerts nobody
    assert audit_export.audit_check_and_export() == []
    assert mailoutbox == [] and (tmp_path / "heads.jsonl").exists()
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute(
            "UPDATE requests_app_auditevent SET data = %s WHERE id = %s", ['{"n": 7}', events[1].pk]
        )
    # A run after tampering alerts by e-mail and in the log, and does not export the broken head
    before = (tmp_path / "heads.jsonl").read_text()
    problems = audit_export.audit_check_and_export()
    assert problems and (tmp_path / "heads.jsonl").read_text() == before
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["security@example.org"]
    assert "audit chain" in mailoutbox[0].subject.lower() and f"seq {events[1].seq}" in mailoutbox[0].body
    assert any(record.levelname == "CRITICAL" for record in caplog.records)
