"""Admin of staff records: the admin's own sign-in uses the staff form (throttles, second factor); a lost
second factor is reset by deleting its record; tokens are revoked, never shown."""

from django.contrib import admin

from requests_app.staff.forms import StaffAdminAuthenticationForm
from requests_app.staff.models import ApiToken, StaffTotp

admin.site.login_form = StaffAdminAuthenticationForm
admin.site.login_template = "admin/staff_login.html"


@admin.register(StaffTotp)
class StaffTotpAdmin(admin.ModelAdmin):
    list_display = ("user", "confirmed_at", "created_at")
    fields = ("user", "confirmed_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "revoked", "created_at", "last_used_at")
    fields = ("name", "user", "revoked", "created_at", "last_used_at")
    readonly_fields = ("name", "user", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False  # `manage.py create_api_token` makes them and shows the key once
