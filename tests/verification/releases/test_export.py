"""export_model: a published version becomes a loadable Hugging Face directory whose model card gives
figures, the policy version and the erasure count, and never a requester's name or text."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from palimpsest.ml.loading import load_causal_lm
from verification.releases.services import release_approve, release_publish


@pytest.mark.django_db
def test_export_writes_a_model_card_without_names(
    base_version, make_candidate, manager, world, tmp_path, django_capture_on_commit_callbacks
):
    # Given a published v2 over two people's requests
    people = world.members()[:2]
    candidate = make_candidate(people, parent=base_version)
    candidate.report.figures = {"forget/greedy_leak_rate": 0.0125, "retain/nll": 2.5}
    candidate.report.save()
    release_approve(version_id=candidate.version.pk, user=manager)
    with django_capture_on_commit_callbacks(execute=True):
        release_publish(version_id=candidate.version.pk, user=manager)
    # When it is exported
    target = tmp_path / "export"
    call_command("export_model", "2", str(target))
    # Then the directory loads as a model and its card has the figures, the policy and the count
    assert load_causal_lm(target).model is not None and not (target / "manifest.json").exists()
    card = (target / "README.md").read_text()
    assert f"policy version {candidate.report.policy.version}" in card
    assert "forget the data of 2 erasure request(s) under GDPR Art. 17 (6 submitted item(s))" in card
    assert "| `forget/greedy_leak_rate` | 0.0125 |" in card
    for person in people:
        assert world.people[person]["name"] not in card
    for req in candidate.requests:
        assert req.requester_name not in card and req.requester_email not in card
    # And a changed artifact, a non-empty target or an unknown version are refused
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_model", "2", str(target))
    Path(candidate.version.artifact_path, "config.json").write_text("{}")
    with pytest.raises(CommandError, match="config.json is missing or changed"):
        call_command("export_model", "2", str(tmp_path / "again"))
    with pytest.raises(CommandError, match="no model version 9"):
        call_command("export_model", "9", str(tmp_path / "none"))
