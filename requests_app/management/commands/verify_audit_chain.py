"""Check the audit log's keyed hash chain, and that it still holds the head exported last; exit non-zero
naming the first row that was tampered with."""

from django.core.management.base import BaseCommand, CommandError

from requests_app.audit_export import audit_problems
from requests_app.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit log's hash chain end to end."

    def handle(self, *args, **options):
        problems = audit_problems()
        if problems:
            problem = problems[0]
            where = f"row seq {problem.seq}" + (f" (id {problem.event_id})" if problem.event_id else "")
            raise CommandError(f"Audit chain broken at {where}: {problem.message}.")
        count = AuditEvent.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified."))
