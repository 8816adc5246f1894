"""The model registry: every model version the platform has made or was given, and the aliases
(`production`, `candidate`) that point at one of them."""

from django.db import models


class VersionStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    VERIFIED = "verified", "Verified"
    VERIFICATION_FAILED = "verification_failed", "Verification failed"
    APPROVED = "approved", "Approved for release"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"
    PURGED = "purged", "Purged"


class Strategy(models.TextChoices):
    BASE = "base", "Base model"
    INCREMENTAL = "incremental", "Incremental (from the production version)"
    REBASE = "rebase", "Rebase (from the base model, on every forget set so far)"


class ModelVersion(models.Model):
    """One model directory under the storage root, with a manifest of the sha256 of every file.

    `included_requests` is cumulative: every request whose data this version was made to forget (its
    parent's, plus the producing job's). Holds ids and hashes only, never an item's text.
    """

    number = models.PositiveIntegerField(unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    status = models.CharField(max_length=24, choices=VersionStatus.choices, default=VersionStatus.CANDIDATE)
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    artifact_path = models.CharField(max_length=1024)
    # sha256 over the sorted "path sha256" lines of the directory (the engine's tree hash).
    artifact_sha256 = models.CharField(max_length=64)
    manifest = models.JSONField(default=dict)
    produced_by = models.OneToOneField(
        "unlearn_jobs.UnlearnJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="produced_version",
    )
    included_requests = models.ManyToManyField(
        "requests_app.ForgetRequest", blank=True, related_name="model_versions"
    )
    # The utility budget: retain-NLL rise of this version's own job (measured by the engine, refined by
    # verification), and its sum over the incremental chain since the base or the last rebase.
    utility_cost = models.FloatField(default=0.0)
    utility_spent = models.FloatField(default=0.0)
    incremental_depth = models.PositiveIntegerField(default=0)
    # When verification was last asked for (the candidate_registered signal); the reconciler resends.
    verification_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="published"),
                name="modelversion_one_published",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} ({self.status})"

    @property
    def label(self) -> str:
        return f"v{self.number}"


class AliasName(models.TextChoices):
    PRODUCTION = "production", "Production"
    CANDIDATE = "candidate", "Latest candidate"


class ModelAlias(models.Model):
    """A named pointer: `production` is what the generation API serves, `candidate` the newest candidate."""

    name = models.CharField(max_length=32, choices=AliasName.choices, unique=True)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.name} -> v{self.version.number}"
