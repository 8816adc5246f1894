"""The audit log is append-only and hash-chained; tampering in SQL (as a database superuser, who can switch
the append-only trigger off) is found and named."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from requests_app.audit import Actor, audit_append, audit_chain_problems
from requests_app.models import AuditEvent
from tests.requests_app.factories import make_request
from tests.security.test_audit_chain import as_superuser


def _log(n: int) -> list[AuditEvent]:
    req = make_request()
    return [
        audit_append(actor=Actor.system(), action="test.event", obj=req, data={"n": i, "score": 0.5})
        for i in range(n)
    ]


def _verify() -> str:
    try:
        call_command("verify_audit_chain")
    except CommandError as error:
        return str(error)
    return "ok"


@pytest.mark.django_db
def test_a_clean_log_verifies():
    _log(5)
    assert _verify() == "ok"
    assert list(audit_chain_problems()) == []


@pytest.mark.django_db
def test_an_edited_row_is_named():
    events = _log(5)
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute(
            "UPDATE requests_app_auditevent SET data = %s WHERE id = %s",
            ['{"n": 99, "score": 0.5}', events[2].pk],
        )
    message = _verify()
    assert f"seq {events[2].seq}" in message and "edited" in message


@pytest.mark.django_db
def test_a_deleted_row_is_named():
    events = _log(5)
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute("DELETE FROM requests_app_auditevent WHERE id = %s", [events[1].pk])
    message = _verify()
    assert f"seq {events[2].seq}" in message and "missing" in message


@pytest.mark.django_db
def test_a_deleted_last_row_is_found_through_the_head():
    events = _log(3)
    with connection.cursor() as cursor:
        as_superuser(cursor)
        cursor.execute("DELETE FROM requests_app_auditevent WHERE id = %s", [events[-1].pk])
    assert "chain head" in _verify()


@pytest.mark.django_db
def test_swapped_rows_are_named():
    events = _log(5)
    a, b = events[1], events[3]
    with connection.cursor() as cursor:
        as_superuser(cursor)
        # Swap the two rows' positions in the chain (seq is unique, so go through a free value).
        cursor.execute("UPDATE requests_app_auditevent SET seq = 0 WHERE id = %s", [a.pk])
        cursor.execute("UPDATE requests_app_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
        cursor.execute("UPDATE requests_app_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    message = _verify()
    assert f"seq {a.seq}" in message


@pytest.mark.django_db
def test_personal_data_is_refused_in_audit_rows():
    req = make_request()
    with pytest.raises(ValueError, match="email"):
        audit_append(actor=Actor.system(), action="x", obj=req, data={"email": "ana@example.org"})
    with pytest.raises(ValueError, match="sha256"):
        audit_append(actor=Actor.system(), action="x", obj=req, data={"summary": "x" * 500})
    assert not AuditEvent.objects.filter(action="x").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain():
    req = make_request()
    barrier = threading.Barrier(4)

    def append_some():
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                audit_append(actor=Actor.system(), action="test.concurrent", obj=req, data={"i": i})
        finally:
            connection.close()

    threads = [threading.Thread(target=append_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert AuditEvent.objects.filter(action="test.concurrent").count() == 20
    assert list(audit_chain_problems()) == []
