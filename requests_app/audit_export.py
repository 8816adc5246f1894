"""The audit chain's anchor outside the database: its head exported to an append-only file, and the
periodic check that compares the chain with it and alerts the administrators when anything is off.

Whoever can write the database can delete the newest rows and move the head back; they cannot change what
was exported before. Mount PALIMPSEST_AUDIT_EXPORT on storage the database's users cannot write (another
host, a write-once bucket's sync folder).
"""

import json
import logging
import os
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from palimpsest.hashing import canonical_json, hmac_sha256_hex
from requests_app.audit import ChainProblem, audit_chain_problems
from requests_app.models import AuditChainHead, AuditEvent

logger = logging.getLogger(__name__)
# The check reports at most this many problems (a rewritten chain breaks every row after the first).
MAX_REPORTED = 20


def _line_mac(record: dict) -> str:
    return hmac_sha256_hex(settings.PALIMPSEST_AUDIT_KEY, canonical_json(record))


def audit_head_export() -> AuditChainHead:
    """Append the chain's current head (seq, hash, time, MAC) to the export file."""
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(seq=0, hash="0" * 64)
    record = {"seq": head.seq, "hash": head.hash, "exported_at": timezone.now().isoformat()}
    path = Path(settings.PALIMPSEST_AUDIT_EXPORT)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(canonical_json({**record, "mac": _line_mac(record)}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return head


def _last_exported() -> tuple[dict | None, str | None]:
    """The newest exported head, or why it cannot be trusted."""
    path = Path(settings.PALIMPSEST_AUDIT_EXPORT)
    if not path.exists():
        return None, None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        return None, None
    try:
        record = json.loads(lines[-1])
        mac = record.pop("mac")
    except (ValueError, KeyError, AttributeError):
        return None, f"the last line of {path} is not an exported head"
    if _line_mac(record) != mac:
        return None, f"the last line of {path} does not carry a valid MAC (the export file was edited)"
    return record, None


def audit_problems() -> list[ChainProblem]:
    """The chain's own problems, and whether it still holds the head exported last."""
    problems = list(islice(audit_chain_problems(), MAX_REPORTED))
    exported, refusal = _last_exported()
    if refusal:
        problems.append(ChainProblem(None, None, refusal))
    elif exported is not None:
        row = AuditEvent.objects.filter(seq=exported["seq"]).values_list("hash", flat=True).first()
        if exported["seq"] and row != exported["hash"]:
            problems.append(
                ChainProblem(
                    exported["seq"],
                    None,
                    f"row seq {exported['seq']}, exported at {exported['exported_at']} as the head, "
                    + ("is gone (rows were deleted)" if row is None else "has another hash now"),
                )
            )
    return problems


def audit_check_and_export() -> list[ChainProblem]:
    """The periodic check: alert (log and mail to ADMINS) on any problem; otherwise export the head."""
    problems = audit_problems()
    if not problems:
        audit_head_export()
        return []
    lines = [f"- seq {p.seq}: {p.message}" if p.seq is not None else f"- {p.message}" for p in problems]
    report = "The audit chain check found:\n" + "\n".join(lines)
    logger.critical("audit chain check failed: %d problem(s)\n%s", len(problems), report)
    mail_admins("Audit chain check failed", report + "\n\nRun `manage.py verify_audit_chain` for details.")
    return problems
