"""Unlearning jobs: one batch of approved requests trained into one candidate model version, with the
rows an operator reads (attempts, the metric history behind the loss curves, log lines)."""

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class BatchReason(models.TextChoices):
    DEADLINE = "deadline", "A due date is near"
    AGE = "age", "A request waited too long"
    SIZE = "size", "Enough items waiting"
    MANUAL = "manual", "Batched by an operator"
    VERIFICATION = "verification", "Retried after a failed verification"


class UnlearnJob(models.Model):
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # Incremented by each claim; a worker acts on the job only while the row still carries its attempt.
    attempt = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    method = models.CharField(max_length=32)
    mode = models.CharField(max_length=16)
    strategy = models.CharField(max_length=16)
    strategy_reason = models.CharField(max_length=255, blank=True, default="")
    reason = models.CharField(max_length=16, choices=BatchReason.choices)
    # The engine settings, frozen when the job is made: every attempt builds the same spec, so a
    # checkpoint written by one attempt is resumed by the next.
    engine_settings = models.JSONField(default=dict)
    parent_version = models.ForeignKey(
        "unlearn_jobs.ModelVersion", on_delete=models.PROTECT, related_name="child_jobs"
    )
    requests = models.ManyToManyField(
        "requests_app.ForgetRequest", through="unlearn_jobs.JobRequest", related_name="unlearn_jobs"
    )
    forget_items = models.PositiveIntegerField(default=0)
    trained_items = models.PositiveIntegerField(default=0)
    trained_tokens = models.PositiveIntegerField(default=0, help_text="Estimated from characters.")
    retain_items = models.PositiveIntegerField(default=0)
    # sha256 of the retain texts chosen by the first attempt: later attempts train on the same set.
    retain_hashes = models.JSONField(default=list, blank=True)
    # Progress, written by the worker at every log of the engine.
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    eta_at = models.DateTimeField(null=True, blank=True)
    checkpoint_path = models.CharField(max_length=1024, blank=True, default="")
    artifact_path = models.CharField(max_length=1024, blank=True, default="")
    worker_id = models.CharField(max_length=255, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # A queued job is not sent before this time (retry backoff); sent = when a message last left for the
    # broker. The reaper sends what is due; the reconciler resends what the broker lost.
    not_before = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # A retry after a failed verification: the job it retries and how many such retries so far.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="verification_retries"
    )
    verification_retry = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="unlearnjob_status_heartbeat")]
        permissions = [("operate_unlearnjob", "Can batch, cancel and retry unlearning jobs")]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


class JobRequest(models.Model):
    """A request in a job. `carried`: erased by an earlier version and trained on again by a rebase;
    the job does not move its status."""

    job = models.ForeignKey(UnlearnJob, on_delete=models.CASCADE, related_name="job_requests")
    request = models.ForeignKey(
        "requests_app.ForgetRequest", on_delete=models.PROTECT, related_name="job_links"
    )
    carried = models.BooleanField(default=False)

    class Meta:
        ordering = ["job_id", "request_id"]
        constraints = [models.UniqueConstraint(fields=["job", "request"], name="jobrequest_unique")]

    def __str__(self) -> str:
        return f"Request {self.request_id} in job {self.job_id}"


class JobItem(models.Model):
    """One item of the job's forget set. Every row travels to verification; the `trained` rows (the
    coreset) are what the engine trains on."""

    job = models.ForeignKey(UnlearnJob, on_delete=models.CASCADE, related_name="items")
    approved_item = models.ForeignKey(
        "requests_app.ApprovedItem", on_delete=models.PROTECT, related_name="job_items"
    )
    trained = models.BooleanField()
    carried = models.BooleanField(default=False)

    class Meta:
        ordering = ["job_id", "approved_item_id"]
        constraints = [models.UniqueConstraint(fields=["job", "approved_item"], name="jobitem_unique")]

    def __str__(self) -> str:
        return f"Item {self.approved_item_id} in job {self.job_id}"


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY = "retry", "Failed, retried"
    LOST = "lost", "Worker lost (heartbeat stale)"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobAttempt(models.Model):
    job = models.ForeignKey(UnlearnJob, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    worker_id = models.CharField(max_length=255)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    resumed_from_step = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="jobattempt_unique")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of job {self.job_id}"


class JobMetric(models.Model):
    """The engine's figures at one logged step; a resumed attempt rewrites the steps it repeats."""

    job = models.ForeignKey(UnlearnJob, on_delete=models.CASCADE, related_name="metric_rows")
    step = models.PositiveIntegerField()
    attempt = models.PositiveIntegerField()
    figures = models.JSONField(default=dict)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id", "step"]
        constraints = [models.UniqueConstraint(fields=["job", "step"], name="jobmetric_unique_step")]

    def __str__(self) -> str:
        return f"Job {self.job_id} step {self.step}"


class LogLevel(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class JobLog(models.Model):
    """What happened to a job, in words for the operator: ids, counts and error types, never item text."""

    job = models.ForeignKey(UnlearnJob, on_delete=models.CASCADE, related_name="log_lines")
    attempt = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=8, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job_id", "created_at", "pk"]

    def __str__(self) -> str:
        return f"Job {self.job_id}: {self.message[:40]}"
