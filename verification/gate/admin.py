"""Admin of the gate: a new policy version is added (never edited in place); reports are read only."""

import json

from django import forms
from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from palimpsest.errors import ApplicationError
from verification.gate import services
from verification.gate.models import VerificationPolicy, VerificationReport
from verification.gate.policy import validate_thresholds


class PolicyForm(forms.ModelForm):
    thresholds = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100}),
        help_text='{"check name": {"max" or "min": number, "required": true/false, "label": "..."}}',
    )

    class Meta:
        model = VerificationPolicy
        fields = ["thresholds", "note"]

    def clean_thresholds(self):
        thresholds = self.cleaned_data["thresholds"]
        problems = (
            validate_thresholds(thresholds) if isinstance(thresholds, dict) else ["Give a JSON object."]
        )
        if problems:
            raise forms.ValidationError(problems)
        return thresholds


@admin.register(VerificationPolicy)
class VerificationPolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ("version", "created_at", "created_by", "note")

    def get_changeform_initial_data(self, request):
        # A new version starts from the one in force.
        return {"thresholds": json.dumps(services.policy_current().thresholds, indent=2)}

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            created = services.verification_policy_create(
                thresholds=form.cleaned_data["thresholds"], note=form.cleaned_data["note"], user=request.user
            )
        except ApplicationError as error:  # validated by the form already; kept for a race
            raise forms.ValidationError(error.message) from None
        obj.pk, obj.version = created.pk, created.version


@admin.register(VerificationReport)
class VerificationReportAdmin(ReadOnlyAdmin):
    list_display = ("model_version", "status", "policy", "passed", "created_at", "finished_at")
    list_filter = ("status", "passed")
