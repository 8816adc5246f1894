"""The purge deletes superseded versions that still hold erased data after the grace period, and
scan_erased finds no submitted text of a completed request afterwards (and does find a planted one)."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from requests_app.models import ForgetItem
from tests.requests_app.factories import make_request
from unlearn_jobs.registry.models import ModelVersion
from verification.releases.purge import model_versions_purge
from verification.releases.services import release_approve, release_publish
from verification.releases.tasks import purge_superseded_versions


def _publish(candidate, manager, capture):
    release_approve(version_id=candidate.version.pk, user=manager)
    with capture(execute=True):
        release_publish(version_id=candidate.version.pk, user=manager)


def _age(version: ModelVersion, days: float) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(status_changed_at=timezone.now() - timedelta(days=days))


@pytest.mark.django_db
def test_purge_deletes_superseded_versions_holding_erased_data_after_the_grace_period(
    base_version, make_candidate, manager, world, django_capture_on_commit_callbacks
):
    members = world.members()
    # Given v2 (A) published, v3 from v2 with nothing new published, then v4 from v3 (B) published
    v2 = make_candidate(members[:1], parent=base_version)
    _publish(v2, manager, django_capture_on_commit_callbacks)
    v3 = make_candidate([], parent=v2.version)
    _publish(v3, manager, django_capture_on_commit_callbacks)
    v4 = make_candidate(members[1:2], parent=v3.version)
    _publish(v4, manager, django_capture_on_commit_callbacks)
    # When the purge runs within the grace period, nothing is deleted
    assert model_versions_purge() == []
    # When it runs after the grace period (the beat task, as beat would call it)
    for version in (base_version, v2.version, v3.version):
        _age(version, 8)
    assert purge_superseded_versions.apply().get() == [2, 3]
    # Then v2 and v3 (lacking B, erased since) are purged and their files gone; v4 serves; the base
    # model (outside the storage root) is kept
    statuses = dict(ModelVersion.objects.values_list("number", "status"))
    assert statuses == {1: "superseded", 2: "purged", 3: "purged", 4: "published"}
    assert not Path(v2.version.artifact_path).exists() and not Path(v3.version.artifact_path).exists()
    assert Path(v4.version.artifact_path).is_dir() and Path(base_version.artifact_path).is_dir()
    # And running it again changes nothing
    assert model_versions_purge() == []


@pytest.mark.django_db
def test_after_publish_and_purge_scan_erased_finds_nothing_but_finds_a_planted_copy(
    base_version, make_candidate, manager, world, job_env, django_capture_on_commit_callbacks
):
    # Given a published version whose requests are completed, and the purge done
    candidate = make_candidate(world.members()[:2], parent=base_version)
    texts = [item.text for req in candidate.requests for item in req.items.order_by("position")]
    _publish(candidate, manager, django_capture_on_commit_callbacks)
    _age(base_version, 8)
    model_versions_purge()
    # Then scan_erased finds nothing
    out = StringIO()
    call_command("scan_erased", stdout=out)
    assert "No erased data found." in out.getvalue()
    # And a copy left in another table, one in a JSON file and one in a plain file of the store are found
    stray = make_request(texts=(texts[0],))
    notes = Path(job_env.settings.PALIMPSEST_STORAGE) / "notes" / "export.jsonl"
    notes.parent.mkdir(parents=True)
    notes.write_text(json.dumps({"text": texts[4]}) + "\n")
    (notes.parent / "copy.txt").write_text(f"Copied from a ticket:\n{texts[3]}\n-- end\n")
    out = StringIO()
    with pytest.raises(CommandError, match="3 place"):
        call_command("scan_erased", stdout=out)
    report = out.getvalue()
    item = ForgetItem.objects.get(request=stray)
    assert f"requests_app.ForgetItem#{item.pk}.text: request {candidate.requests[0].pk}" in report
    assert f"file notes/export.jsonl: request {candidate.requests[1].pk}" in report
    assert f"file notes/copy.txt: request {candidate.requests[1].pk}" in report
    assert not any(text in report for text in texts)
