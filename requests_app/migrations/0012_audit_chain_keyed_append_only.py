"""Key the audit chain (HMAC with PALIMPSEST_AUDIT_KEY) and make its rows append-only on PostgreSQL.

Existing rows are first checked under the old plain-SHA-256 chain (a broken chain stops the migration: it
must not be laundered into a valid keyed one), then re-hashed with the key. Then a trigger refuses UPDATE
and DELETE of audit rows for every role, the application's included.
"""

import hashlib

from django.db import migrations

from requests_app.audit import GENESIS_HASH, chain_hash, stored_event_payload

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION palimpsest_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'requests_app_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS auditevent_append_only ON requests_app_auditevent;
CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON requests_app_auditevent
    FOR EACH ROW EXECUTE FUNCTION palimpsest_audit_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS auditevent_append_only ON requests_app_auditevent;
DROP FUNCTION IF EXISTS palimpsest_audit_append_only();
"""


def rekey_chain(apps, schema_editor):
    AuditEvent = apps.get_model("requests_app", "AuditEvent")
    AuditChainHead = apps.get_model("requests_app", "AuditChainHead")
    old_prev = new_prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        payload = stored_event_payload(event)
        if (
            event.prev_hash != old_prev
            or hashlib.sha256((old_prev + payload).encode()).hexdigest() != event.hash
        ):
            raise RuntimeError(
                f"The audit chain is broken at seq {event.seq}; run `manage.py verify_audit_chain` on the "
                "previous release before keying it."
            )
        old_prev = event.hash
        new_hash = chain_hash(new_prev, payload)
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=new_prev, hash=new_hash)
        new_prev = new_hash
    AuditChainHead.objects.filter(pk=1).update(hash=new_prev)


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0011_staff_totp_api_token")]

    operations = [
        migrations.RunPython(rekey_chain, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
