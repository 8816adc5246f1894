"""The command behind `verify_report` and `verify_certificate`: read a signed JSON file, check it
against the platform's trusted keys (or a public key given on the command line), say why it fails."""

import base64
import binascii
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from palimpsest.keys import trusted_public_keys
from palimpsest.signing import load_signed, verify_document


class VerifySignedFileCommand(BaseCommand):
    kind = ""  # the document kind this command accepts

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="base64 public key to trust instead of the platform's (checking outside the platform)",
        )

    def handle(self, *args, **options):
        path: Path = options["file"]
        try:
            signed = load_signed(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CommandError(f"{path}: cannot be read as a signed document ({error}).") from None
        try:
            keys = [
                base64.b64decode(k, validate=True) for k in options["public_key"]
            ] or trusted_public_keys()
        except (binascii.Error, ValueError):
            raise CommandError("--public-key must be base64.") from None
        verdict = verify_document(signed, trusted_public_keys=keys)
        if not verdict:
            raise CommandError(f"{path}: INVALID — {verdict.reason}.")
        kind = signed["document"].get("kind") if isinstance(signed.get("document"), dict) else None
        if self.kind and kind != self.kind:
            raise CommandError(f"{path}: the signature is valid, but it is a {kind!r}, not a {self.kind!r}.")
        self.stdout.write(self.style.SUCCESS(f"{path}: VALID — {verdict.reason} (key {verdict.key_id})."))
