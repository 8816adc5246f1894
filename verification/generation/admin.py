"""Admin of API tokens: an administrator issues one (shown once) or revokes it; nothing else changes."""

from django import forms
from django.contrib import admin, messages

from verification.generation.models import ApiToken
from verification.generation.services import api_token_issue, api_token_revoke


class IssueForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = IssueForm
    list_display = ("name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        token, raw = api_token_issue(name=form.cleaned_data["name"], user=request.user)
        obj.pk = token.pk
        messages.warning(request, f"The token, shown only now: {raw}")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token_id=token.pk, user=request.user)
