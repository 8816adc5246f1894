"""The registry: the base model becomes version 1, published, with a manifest of every file's sha256;
registration is idempotent (also through build_demo_world); one version is published at a time."""

from io import StringIO

import pytest
from django.core.management import call_command

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_file
from requests_app.audit import Actor
from requests_app.models import AuditEvent
from tests.fixtures.demo import TINY_PEOPLE, TINY_SEED
from unlearn_jobs.registry import selectors
from unlearn_jobs.registry.models import ModelVersion, Strategy, VersionStatus
from unlearn_jobs.registry.services import (
    model_version_publish,
    model_version_register_base,
    model_version_transition,
)


@pytest.mark.django_db
def test_base_model_is_version_one_published_with_every_file_hashed(job_env, tiny_world):
    version, created = model_version_register_base(artifact_path=tiny_world.model_dir, actor=Actor.system())
    assert created and (version.number, version.status, version.strategy) == (1, "published", "base")
    assert selectors.production_version() == version == selectors.base_version()
    files = sorted(p for p in tiny_world.model_dir.iterdir() if p.is_file())
    assert version.manifest["files"] == {p.name: sha256_file(p) for p in files}
    assert (
        AuditEvent.objects.filter(action="model_version.registered", object_id=str(version.pk)).count() == 1
    )
    # Registering the same directory again changes nothing
    again, created_again = model_version_register_base(
        artifact_path=tiny_world.model_dir, actor=Actor.system()
    )
    assert (again, created_again) == (version, False) and ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_another_base_is_refused(job_env, tiny_world, tmp_path):
    model_version_register_base(artifact_path=tiny_world.model_dir, actor=Actor.system())
    other = tmp_path / "other"
    other.mkdir()
    for path in tiny_world.model_dir.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    (other / "config.json").write_text((other / "config.json").read_text().replace("}", ', "x": 1}', 1))
    with pytest.raises(ApplicationError, match="already has a base model"):
        model_version_register_base(artifact_path=other, actor=Actor.system())
    with pytest.raises(ApplicationError, match="not a model directory"):
        model_version_register_base(artifact_path=tmp_path, actor=Actor.system())


@pytest.mark.django_db
def test_build_demo_world_registers_the_platform_base_model_once(job_env, tiny_world):
    args = [f"--people={TINY_PEOPLE}", f"--seed={TINY_SEED}", "--size=tiny", f"--root={tiny_world.root}"]
    out = StringIO()
    call_command("build_demo_world", *args, stdout=out)
    assert "registry: registered as v1 (published)" in out.getvalue()
    out = StringIO()
    call_command("build_demo_world", *args, stdout=out)
    assert "registry: already registered as v1 (published)" in out.getvalue()
    assert list(ModelVersion.objects.values_list("number", "status")) == [(1, "published")]
    # A world built somewhere else is not the platform's model
    job_env.set(PALIMPSEST_BASE_MODEL="/nonexistent/base")
    out = StringIO()
    call_command("build_demo_world", *args, stdout=out)
    assert "registry: not registered" in out.getvalue() and ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_one_version_is_published_at_a_time_and_transitions_follow_the_table(base_version):
    candidate = ModelVersion.objects.create(
        number=2,
        parent=base_version,
        strategy=Strategy.INCREMENTAL,
        artifact_path="/x",
        artifact_sha256="0" * 64,
    )
    with pytest.raises(ApplicationError, match="cannot be published"):
        model_version_publish(version_id=candidate.pk, actor=Actor.system())
    for step in (VersionStatus.VERIFIED, VersionStatus.APPROVED):
        model_version_transition(version_id=candidate.pk, to=step, actor=Actor.system())
    model_version_transition(version_id=candidate.pk, to=VersionStatus.PUBLISHED, actor=Actor.system())
    base_version.refresh_from_db()
    assert base_version.status == "superseded" and selectors.production_version().pk == candidate.pk
    assert ModelVersion.objects.filter(status="published").count() == 1
    # Rollback: the superseded base is published again
    model_version_publish(version_id=base_version.pk, actor=Actor.system())
    assert selectors.production_version().pk == base_version.pk
    with pytest.raises(ApplicationError, match="cannot become"):
        model_version_transition(version_id=candidate.pk, to=VersionStatus.VERIFIED, actor=Actor.system())
