"""Unlearning jobs and the model registry. Each domain keeps its records in its package; importing them
here registers them with this app (their foreign keys name other models by label, so no cycle)."""

from unlearn_jobs.jobs.models import (
    ACTIVE_JOB_STATUSES,
    FINAL_JOB_STATUSES,
    AttemptOutcome,
    BatchReason,
    JobAttempt,
    JobItem,
    JobLog,
    JobMetric,
    JobRequest,
    JobStatus,
    LogLevel,
    UnlearnJob,
)
from unlearn_jobs.registry.models import AliasName, ModelAlias, ModelVersion, Strategy, VersionStatus

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "FINAL_JOB_STATUSES",
    "AliasName",
    "AttemptOutcome",
    "BatchReason",
    "JobAttempt",
    "JobItem",
    "JobLog",
    "JobMetric",
    "JobRequest",
    "JobStatus",
    "LogLevel",
    "ModelAlias",
    "ModelVersion",
    "Strategy",
    "UnlearnJob",
    "VersionStatus",
]
