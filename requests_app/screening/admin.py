"""Admin of screening's records (read only)."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from requests_app.screening.models import ScreeningReport


@admin.register(ScreeningReport)
class ScreeningReportAdmin(ReadOnlyAdmin):
    list_display = ("request", "risk", "model_label", "duration_ms", "updated_at")
    list_filter = ("risk",)
