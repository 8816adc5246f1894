"""`manage.py verify_certificate FILE`: check a downloaded erasure certificate's signature."""

from palimpsest.signed_files import VerifySignedFileCommand


class Command(VerifySignedFileCommand):
    help = "Check the signature of an erasure certificate (JSON) against the platform's trusted keys."
    kind = "palimpsest.erasure_certificate"
