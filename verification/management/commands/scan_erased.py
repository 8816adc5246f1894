"""`manage.py scan_erased`: report every place a completed request's submitted text is still found."""

from django.core.management.base import BaseCommand, CommandError

from verification.releases.scan import scan_erased


class Command(BaseCommand):
    help = "Search the database and the artifact store for the texts of completed erasure requests."

    def handle(self, *args, **options):
        findings = scan_erased()
        for finding in findings:
            self.stdout.write(f"{finding.where}: request {finding.request_id}")
        if findings:
            raise CommandError(f"{len(findings)} place(s) still hold erased data.")
        self.stdout.write(self.style.SUCCESS("No erased data found."))
