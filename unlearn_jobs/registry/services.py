"""Every write to the registry: register the base model and candidates, move a version through its
lifecycle, point the aliases. Versions are immutable once registered except for status and figures."""

import json
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from palimpsest.errors import ApplicationError
from requests_app.audit import Actor, audit_append
from unlearn_jobs.engine.artifact import file_hashes, tree_sha256
from unlearn_jobs.registry.models import AliasName, ModelAlias, ModelVersion, Strategy, VersionStatus

MANIFEST_FORMAT = "palimpsest.model-version/1"

# The lifecycle of DESIGN.md; a superseded version may be published again (rollback).
ALLOWED: dict[str, frozenset[str]] = {
    VersionStatus.CANDIDATE: frozenset({VersionStatus.VERIFIED, VersionStatus.VERIFICATION_FAILED}),
    # A release manager who refuses a verified or approved version fails it: it is never published.
    VersionStatus.VERIFIED: frozenset(
        {VersionStatus.APPROVED, VersionStatus.SUPERSEDED, VersionStatus.VERIFICATION_FAILED}
    ),
    VersionStatus.APPROVED: frozenset(
        {VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED, VersionStatus.VERIFICATION_FAILED}
    ),
    VersionStatus.PUBLISHED: frozenset({VersionStatus.SUPERSEDED}),
    VersionStatus.SUPERSEDED: frozenset({VersionStatus.PUBLISHED, VersionStatus.PURGED}),
    VersionStatus.VERIFICATION_FAILED: frozenset({VersionStatus.PURGED}),
}


def artifact_manifest(artifact_dir: Path) -> dict:
    """sha256 of every file of a model directory (the engine's manifest.json included), its tree hash,
    and the engine's own manifest when there is one (it holds item hashes and ids, never text)."""
    artifact_dir = Path(artifact_dir)
    if not (artifact_dir / "config.json").is_file():
        raise ApplicationError(f"{artifact_dir} is not a model directory (no config.json).")
    files = file_hashes(artifact_dir)
    engine_manifest_path = artifact_dir / "manifest.json"
    engine = json.loads(engine_manifest_path.read_text()) if engine_manifest_path.is_file() else None
    return {"format": MANIFEST_FORMAT, "files": files, "sha256": tree_sha256(files), "engine": engine}


def _next_number() -> int:
    return (ModelVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1


def model_alias_set(*, name: AliasName, version: ModelVersion) -> ModelAlias:
    alias, _ = ModelAlias.objects.update_or_create(name=name, defaults={"version": version})
    return alias


@transaction.atomic
def model_version_register_base(*, artifact_path: Path, actor: Actor) -> tuple[ModelVersion, bool]:
    """The base model as version 1, published; returns (version, created). Registering the same
    directory again changes nothing; a registry that already has another base refuses."""
    manifest = artifact_manifest(artifact_path)
    # Serialise registrations: the first version's number is the contended value.
    ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    base = ModelVersion.objects.filter(strategy=Strategy.BASE).order_by("number").first()
    if base is not None:
        if base.artifact_sha256 != manifest["sha256"]:
            raise ApplicationError(
                f"The registry already has a base model (v{base.number}, sha256 {base.artifact_sha256[:12]}); "
                f"the model at {artifact_path} differs (sha256 {manifest['sha256'][:12]})."
            )
        return base, False
    if ModelVersion.objects.exists():
        raise ApplicationError("The registry has versions but no base model; register nothing over it.")
    version = ModelVersion.objects.create(
        number=1,
        strategy=Strategy.BASE,
        status=VersionStatus.PUBLISHED,
        artifact_path=str(Path(artifact_path).resolve()),
        artifact_sha256=manifest["sha256"],
        manifest=manifest,
    )
    model_alias_set(name=AliasName.PRODUCTION, version=version)
    audit_append(
        actor=actor,
        action="model_version.registered",
        obj=version,
        data={"number": 1, "strategy": Strategy.BASE, "artifact_sha256": version.artifact_sha256},
    )
    return version, True


def model_version_register_candidate(
    *,
    job,
    parent: ModelVersion,
    strategy: str,
    artifact_path: Path,
    included_request_ids: list[int],
    utility_cost: float,
    actor: Actor,
) -> ModelVersion:
    """A job's artifact as the next candidate version. Called inside the job's completion transaction;
    `produced_by` is unique, so one job never registers two versions."""
    manifest = artifact_manifest(artifact_path)
    # Numbers are handed out under the production alias lock, so two completions never collide.
    ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    incremental = strategy == Strategy.INCREMENTAL
    version = ModelVersion.objects.create(
        number=_next_number(),
        parent=parent,
        strategy=strategy,
        status=VersionStatus.CANDIDATE,
        artifact_path=str(Path(artifact_path).resolve()),
        artifact_sha256=manifest["sha256"],
        manifest=manifest,
        produced_by=job,
        utility_cost=utility_cost,
        utility_spent=(parent.utility_spent if incremental else 0.0) + utility_cost,
        incremental_depth=(parent.incremental_depth if incremental else 0) + 1,
    )
    version.included_requests.set(included_request_ids)
    model_alias_set(name=AliasName.CANDIDATE, version=version)
    audit_append(
        actor=actor,
        action="model_version.registered",
        obj=version,
        data={
            "number": version.number,
            "strategy": strategy,
            "parent_id": parent.pk,
            "job_id": job.pk,
            "requests": len(included_request_ids),
            "artifact_sha256": version.artifact_sha256,
            "utility_cost": round(utility_cost, 6),
        },
    )
    return version


@transaction.atomic
def model_version_transition(
    *, version_id: int, to: VersionStatus, actor: Actor, expected: VersionStatus | None = None
) -> ModelVersion:
    """Move a version along its lifecycle (publishing has its own service: it moves two versions)."""
    target = VersionStatus(to)
    if target == VersionStatus.PUBLISHED:
        return model_version_publish(version_id=version_id, actor=actor)
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if expected is not None and version.status != expected:
        raise ApplicationError(f"Version v{version.number} is now {version.get_status_display().lower()}.")
    if target not in ALLOWED.get(version.status, frozenset()):
        raise ApplicationError(
            f"A {version.get_status_display().lower()} version cannot become {target.label.lower()}."
        )
    previous = version.status
    version.status, version.status_changed_at = target, timezone.now()
    version.save(update_fields=["status", "status_changed_at"])
    audit_append(
        actor=actor, action="model_version.transition", obj=version, data={"from": previous, "to": target}
    )
    return version


@transaction.atomic
def model_version_publish(*, version_id: int, actor: Actor) -> ModelVersion:
    """Point production at the version and supersede the one published before: one published at a time."""
    production = ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if VersionStatus.PUBLISHED not in ALLOWED.get(version.status, frozenset()):
        raise ApplicationError(f"A {version.get_status_display().lower()} version cannot be published.")
    now = timezone.now()
    previous = production.version if production is not None else None
    if previous is not None and previous.pk != version.pk:
        ModelVersion.objects.filter(pk=previous.pk).update(
            status=VersionStatus.SUPERSEDED, status_changed_at=now
        )
    version.status, version.status_changed_at = VersionStatus.PUBLISHED, now
    version.save(update_fields=["status", "status_changed_at"])
    model_alias_set(name=AliasName.PRODUCTION, version=version)
    audit_append(
        actor=actor,
        action="model_version.published",
        obj=version,
        data={"number": version.number, "previous_id": previous.pk if previous else None},
    )
    return version


@transaction.atomic
def model_version_record_utility(*, version_id: int, utility_cost: float, actor: Actor) -> ModelVersion:
    """Verification's measured utility damage replaces the engine's estimate; the budget follows."""
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    delta = utility_cost - version.utility_cost
    version.utility_cost = utility_cost
    version.utility_spent += delta
    version.save(update_fields=["utility_cost", "utility_spent"])
    audit_append(
        actor=actor,
        action="model_version.utility_recorded",
        obj=version,
        data={"utility_cost": round(utility_cost, 6)},
    )
    return version


def model_version_mark_verification_requested(*, version_id: int) -> None:
    ModelVersion.objects.filter(pk=version_id).update(verification_requested_at=timezone.now())
