"""Verification and release records; each domain keeps its own, registered here with the app."""

from verification.gate.models import ReportStatus, VerificationPolicy, VerificationReport
from verification.generation.models import ApiToken
from verification.releases.models import DecisionKind, ErasureCertificate, ReleaseDecision

__all__ = [
    "ApiToken",
    "DecisionKind",
    "ErasureCertificate",
    "ReleaseDecision",
    "ReportStatus",
    "VerificationPolicy",
    "VerificationReport",
]
