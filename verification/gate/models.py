"""The verification gate's records: versioned sign-off policies, and one report per verification run."""

from django.conf import settings
from django.db import models


class VerificationPolicy(models.Model):
    """Thresholds per check. Never edited in place: a change is a new version, and every report names
    the version it was judged by."""

    version = models.PositiveIntegerField(unique=True)
    thresholds = models.JSONField()
    note = models.TextField(blank=True, default="", help_text="Why this version differs from the last.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "verification policies"

    def __str__(self) -> str:
        return f"Policy v{self.version}"


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Could not finish"


class VerificationReport(models.Model):
    """One verification run of a candidate version: every figure, per job and per request, the
    policy's verdict, and the signed document. Holds ids, hashes and figures only, never texts."""

    model_version = models.ForeignKey(
        "unlearn_jobs.ModelVersion", on_delete=models.PROTECT, related_name="verification_reports"
    )
    job = models.ForeignKey(
        "unlearn_jobs.UnlearnJob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    policy = models.ForeignKey(VerificationPolicy, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    # Progress while running: the stage names of the suite, done so far out of all.
    stage = models.CharField(max_length=64, blank=True, default="")
    stages_done = models.PositiveSmallIntegerField(default=0)
    stages_total = models.PositiveSmallIntegerField(default=0)
    # Finished stages' raw figures, kept so a re-run (a worker died) does not redo them.
    stage_results = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(default=dict, blank=True)  # the job's headline figures (candidate)
    parent_figures = models.JSONField(default=dict, blank=True)  # the same, of the parent version
    per_request = models.JSONField(default=dict, blank=True)  # request id -> its figures
    checks = models.JSONField(default=dict, blank=True)  # the policy's outcome per check
    probe_counts = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField(null=True)
    document = models.JSONField(null=True, blank=True)  # the signed report (palimpsest.signing)
    document_sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    worker_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One live run per version: a second start finds this one.
            models.UniqueConstraint(
                fields=["model_version"],
                condition=models.Q(status__in=["pending", "running"]),
                name="verificationreport_one_live_run",
            )
        ]

    def __str__(self) -> str:
        return f"Verification of version {self.model_version_id}: {self.status}"
