from django.contrib import admin

from requests_app.models import AuditEvent, ForgetItem, ForgetRequest


class ForgetItemInline(admin.TabularInline):
    model = ForgetItem
    fields = ("position", "source", "source_name", "sha256", "char_count", "text_deleted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ForgetRequest)
class ForgetRequestAdmin(admin.ModelAdmin):
    # Status changes only through the review services: the admin shows, it does not transition.
    list_display = ("public_id", "kind", "status", "received_at", "due_at")
    list_filter = ("status", "kind", "legal_ground")
    search_fields = ("public_id",)
    readonly_fields = [f.name for f in ForgetRequest._meta.fields]
    inlines = [ForgetItemInline]

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "created_at", "actor_kind", "actor_user", "action", "object_type", "object_id")
    list_filter = ("action", "actor_kind", "object_type")
    search_fields = ("object_id", "action")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
