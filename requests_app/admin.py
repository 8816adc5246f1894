"""Admin of the lifecycle core; each domain registers its own records in its admin module."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from requests_app.models import AuditEvent, ForgetItem, ForgetRequest


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


# Django discovers requests_app.admin only: the domains' admin modules register when imported here.
from requests_app.review import admin as review_admin  # noqa: E402,F401
from requests_app.screening import admin as screening_admin  # noqa: E402,F401
from requests_app.staff import admin as staff_admin  # noqa: E402,F401
