"""Verification and release records; each domain keeps its own, registered here with the app."""

from verification.gate.models import ReportStatus, VerificationPolicy, VerificationReport

__all__ = ["ReportStatus", "VerificationPolicy", "VerificationReport"]
