"""Release records: each release manager's decision on a version (history kept, never edited), and the
signed erasure certificate of each request a published version completed."""

from django.conf import settings
from django.db import models


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approved for release"
    REFUSE = "refuse", "Refused"
    PUBLISH = "publish", "Published to production"
    ROLLBACK = "rollback", "Production rolled back to this version"


class ReleaseDecision(models.Model):
    """One decision on a version: approve, refuse, publish or roll back to it. A refusal's comment is the
    reason the team reads."""

    model_version = models.ForeignKey(
        "unlearn_jobs.ModelVersion", on_delete=models.PROTECT, related_name="release_decisions"
    )
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    comment = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        permissions = [("release_modelversion", "Can approve, refuse, publish and roll back model versions")]

    def __str__(self) -> str:
        return f"{self.kind} version {self.model_version_id}"


class ErasureCertificate(models.Model):
    """The signed proof handed to a subject: ids, counts, sha256s and figures, never a text."""

    request = models.OneToOneField(
        "requests_app.ForgetRequest", on_delete=models.PROTECT, related_name="erasure_certificate"
    )
    model_version = models.ForeignKey(
        "unlearn_jobs.ModelVersion", on_delete=models.PROTECT, related_name="certificates"
    )
    document = models.JSONField()  # the signed certificate (palimpsest.signing)
    document_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Certificate of request {self.request_id} (version {self.model_version_id})"
