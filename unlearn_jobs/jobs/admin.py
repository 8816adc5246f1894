"""Admin of the jobs (read only: a job changes only through its services)."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from unlearn_jobs.jobs.models import JobAttempt, JobLog, UnlearnJob


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    fields = ("number", "worker_id", "outcome", "resumed_from_step", "started_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False


class JobLogInline(admin.TabularInline):
    model = JobLog
    fields = ("created_at", "attempt", "level", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(UnlearnJob)
class UnlearnJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "strategy",
        "method",
        "mode",
        "reason",
        "attempt",
        "step",
        "total_steps",
        "heartbeat_at",
        "created_at",
    )
    list_filter = ("status", "strategy", "method", "reason")
    inlines = [JobAttemptInline, JobLogInline]
