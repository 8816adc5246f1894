"""The purge: superseded versions whose weights still hold data erased since (they lack a completed
request) are deleted from storage after the grace period and marked purged. The base model is never
deleted here: it lives outside the storage root, the operator's own, and every rebase starts from it."""

import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from requests_app.audit import Actor, audit_append
from unlearn_jobs.registry.models import ModelVersion, Strategy, VersionStatus
from unlearn_jobs.registry.services import model_version_transition
from verification.releases.selectors import erased_since


def purge_due() -> list[ModelVersion]:
    cutoff = timezone.now() - timedelta(days=settings.PALIMPSEST_PURGE_GRACE_DAYS)
    superseded = ModelVersion.objects.filter(
        status=VersionStatus.SUPERSEDED, status_changed_at__lte=cutoff
    ).exclude(strategy=Strategy.BASE)
    return [version for version in superseded.order_by("number") if erased_since(version)]


def _inside_storage(path: Path) -> bool:
    return Path(settings.PALIMPSEST_STORAGE).resolve() in path.resolve().parents


def _delete_tree(path: Path) -> None:
    """Rename first (the version's path is gone at once), then delete; a leftover is retried next run."""
    doomed = path.with_name(f".purging-{path.name}")
    if path.exists():
        path.rename(doomed)
    if doomed.exists():
        shutil.rmtree(doomed)


@transaction.atomic
def model_version_purge(*, version_id: int) -> ModelVersion | None:
    """Delete one due version's artifacts and mark it purged; None when it is no longer due."""
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if version.status != VersionStatus.SUPERSEDED or not erased_since(version):
        return None
    artifact = Path(version.artifact_path)
    deleted = _inside_storage(artifact)
    if deleted:
        _delete_tree(artifact)
    model_version_transition(
        version_id=version.pk,
        to=VersionStatus.PURGED,
        actor=Actor.system(),
        expected=VersionStatus.SUPERSEDED,
    )
    audit_append(
        actor=Actor.system(),
        action="model_version.purged",
        obj=version,
        data={
            "number": version.number,
            "artifacts_deleted": deleted,
            "erased_requests": len(erased_since(version)),
        },
    )
    version.refresh_from_db()
    return version


def model_versions_purge() -> list[int]:
    """Every due version, each in its own transaction; returns the numbers purged."""
    purged = []
    for version in purge_due():
        if model_version_purge(version_id=version.pk) is not None:
            purged.append(version.number)
    return purged
