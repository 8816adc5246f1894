"""Reads of the registry for the batcher, the jobs pages, the API and verification."""

from django.db.models import QuerySet

from unlearn_jobs.registry.models import AliasName, ModelAlias, ModelVersion, Strategy, VersionStatus


def alias_version(*, name: AliasName) -> ModelVersion | None:
    alias = ModelAlias.objects.select_related("version").filter(name=name).first()
    return alias.version if alias is not None else None


def production_version() -> ModelVersion | None:
    return alias_version(name=AliasName.PRODUCTION)


def base_version() -> ModelVersion | None:
    """The original base model: the root of every lineage (a rebase starts from it)."""
    return ModelVersion.objects.filter(strategy=Strategy.BASE).order_by("number").first()


def included_request_ids(version: ModelVersion) -> list[int]:
    return sorted(version.included_requests.values_list("pk", flat=True))


def versions_awaiting_verification() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(status=VersionStatus.CANDIDATE).order_by("number")


def missing_request_ids(*, version: ModelVersion, against: ModelVersion) -> list[int]:
    """Requests erased in `against` (e.g. production) that `version` does not include: publishing
    `version` over `against` would bring their data back. The release gate must refuse that."""
    mine = set(version.included_requests.values_list("pk", flat=True))
    return sorted(set(against.included_requests.values_list("pk", flat=True)) - mine)


def version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("parent", "produced_by").order_by("-number")
