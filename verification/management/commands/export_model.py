"""`manage.py export_model VERSION DIR`: a model version as a Hugging Face directory with a model card."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from palimpsest.errors import ApplicationError
from verification.releases.export import model_version_export


class Command(BaseCommand):
    help = "Export a model version (its number) to a directory, with a model card of its figures."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int)
        parser.add_argument("directory", type=Path)

    def handle(self, *args, **options):
        try:
            target = model_version_export(number=options["version"], target=options["directory"])
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(f"v{options['version']} exported to {target}."))
