"""Admin of the model registry (read only: versions change only through the registry services)."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from unlearn_jobs.registry.models import ModelAlias, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("number", "status", "strategy", "parent", "produced_by", "artifact_sha256", "created_at")
    list_filter = ("status", "strategy")
    search_fields = ("artifact_sha256",)


@admin.register(ModelAlias)
class ModelAliasAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "updated_at")
