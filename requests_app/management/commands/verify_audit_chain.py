"""Check the audit log's hash chain; exit non-zero naming the first row that was tampered with."""

from django.core.management.base import BaseCommand, CommandError

from requests_app.audit import audit_chain_problems
from requests_app.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit log's hash chain end to end."

    def handle(self, *args, **options):
        problem = next(audit_chain_problems(), None)
        if problem is not None:
            where = f"row seq {problem.seq}" + (f" (id {problem.event_id})" if problem.event_id else "")
            raise CommandError(f"Audit chain broken at {where}: {problem.message}.")
        count = AuditEvent.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified."))
