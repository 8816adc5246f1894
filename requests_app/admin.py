from django.contrib import admin

from requests_app.models import (
    ApprovalVote,
    AuditEvent,
    ForgetItem,
    ForgetRequest,
    ReviewDecision,
    ScreeningReport,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: the admin shows them, it never adds, edits or deletes."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ForgetItemInline(admin.TabularInline):
    model = ForgetItem
    fields = ("position", "source", "source_name", "sha256", "char_count", "text_deleted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ForgetRequest)
class ForgetRequestAdmin(ReadOnlyAdmin):
    # Status changes only through the services; deleting here would bypass the audit log.
    list_display = ("public_id", "kind", "status", "received_at", "due_at")
    list_filter = ("status", "kind", "legal_ground")
    search_fields = ("public_id",)
    inlines = [ForgetItemInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "actor_kind", "actor_user", "action", "object_type", "object_id")
    list_filter = ("action", "actor_kind", "object_type")
    search_fields = ("object_id", "action")


@admin.register(ScreeningReport)
class ScreeningReportAdmin(ReadOnlyAdmin):
    list_display = ("request", "risk", "model_label", "duration_ms", "updated_at")
    list_filter = ("risk",)


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ("request", "kind", "officer", "exception", "created_at")
    list_filter = ("kind", "exception")


@admin.register(ApprovalVote)
class ApprovalVoteAdmin(ReadOnlyAdmin):
    list_display = ("request", "officer", "created_at", "withdrawn_at")
