"""`manage.py verify_report FILE`: check a downloaded verification report's signature."""

from palimpsest.signed_files import VerifySignedFileCommand


class Command(VerifySignedFileCommand):
    help = "Check the signature of a verification report (JSON) against the platform's trusted keys."
    kind = "palimpsest.verification_report"
