"""Admin of releases: decisions and certificates are written by services only; the admin reads them."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from verification.releases.models import ErasureCertificate, ReleaseDecision


@admin.register(ReleaseDecision)
class ReleaseDecisionAdmin(ReadOnlyAdmin):
    list_display = ("model_version", "kind", "decided_by", "decided_at")
    list_filter = ("kind",)


@admin.register(ErasureCertificate)
class ErasureCertificateAdmin(ReadOnlyAdmin):
    list_display = ("request", "model_version", "created_at")
