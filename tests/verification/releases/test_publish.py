"""Publishing: production moves, the job's requests are completed, certified, marked erased and their
texts erased, all in one transaction; the pointer file and the e-mails follow the commit. A failure in
the middle changes nothing. Rollback is refused while the earlier version holds data erased since."""

import json
from io import StringIO
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from palimpsest.errors import ApplicationError
from requests_app.models import AuditEvent, ForgetItem, Status
from requests_app.review.models import ApprovedItem
from unlearn_jobs.registry.selectors import production_version
from verification.releases.models import DecisionKind, ErasureCertificate, ReleaseDecision
from verification.releases.pointer import pointer_path, pointer_read
from verification.releases.services import release_approve, release_publish, release_rollback


def _publish(candidate, manager, capture):
    release_approve(version_id=candidate.version.pk, user=manager)
    with capture(execute=True):
        return release_publish(version_id=candidate.version.pk, user=manager)


@pytest.mark.django_db
def test_publish_completes_certifies_erases_and_switches_the_pointer(
    base_version, make_candidate, manager, world, client, django_capture_on_commit_callbacks
):
    # Given a verified candidate v2 over two people's requests
    people = world.members()[:2]
    candidate = make_candidate(people, parent=base_version)
    texts = [item.text for req in candidate.requests for item in req.items.all()]
    # When a release manager approves and publishes it
    _publish(candidate, manager, django_capture_on_commit_callbacks)
    # Then production is v2, v1 is superseded, and the pointer file says v2
    base_version.refresh_from_db()
    assert production_version().number == 2 and base_version.status == "superseded"
    assert (
        pointer_read()["version"] == 2
        and pointer_read()["artifact_sha256"] == candidate.version.artifact_sha256
    )
    assert not list(pointer_path().parent.glob(".production.*"))
    # And every request is completed, its texts erased, its items marked erased in v2
    for req in candidate.requests:
        req.refresh_from_db()
        assert req.status == Status.COMPLETED
        assert AuditEvent.objects.filter(action="release.published", object_id=str(req.pk)).exists()
    items = ForgetItem.objects.filter(request__in=candidate.requests)
    assert items.count() == len(texts) and set(items.values_list("text", flat=True)) == {""}
    assert set(
        ApprovedItem.objects.filter(request__in=candidate.requests).values_list(
            "erased_in_version", flat=True
        )
    ) == {"v2"}
    # And each subject got one e-mail whose link opens their certificate, which holds no text
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.requester_email for r in candidate.requests)
    for message, req in zip(
        sorted(mail.outbox, key=lambda m: m.to[0]),
        sorted(candidate.requests, key=lambda r: r.requester_email),
        strict=True,
    ):
        url = next(word for word in message.body.split() if "/certificates/" in word)
        page = client.get(f"{urlparse(url).path}?{urlparse(url).query}")
        assert page.status_code == 200 and str(req.public_id) in page.content.decode()
        assert not any(text in page.content.decode() for text in texts)
        document = ErasureCertificate.objects.get(request=req).document["document"]
        assert document["erased_items"] == 3 and document["model_version"] == 2
        assert document["verification"]["policy_version"] == candidate.report.policy.version
        assert document["verification"]["figures"]["probes"] == 12
        assert not any(text in json.dumps(document) for text in texts)


@pytest.mark.django_db
def test_a_failure_in_the_middle_of_publish_leaves_the_old_version_in_production(
    base_version, make_candidate, manager, world, settings, django_capture_on_commit_callbacks
):
    # Given an approved v2, and a signing key that breaks certificate signing (after the alias moved)
    candidate = make_candidate(world.members()[:2], parent=base_version)
    release_approve(version_id=candidate.version.pk, user=manager)
    settings.PALIMPSEST_SIGNING_KEY = "not base64!"
    # When publishing fails in the middle
    with pytest.raises(ImproperlyConfigured), django_capture_on_commit_callbacks(execute=True):
        release_publish(version_id=candidate.version.pk, user=manager)
    # Then nothing is half switched: v1 serves, v2 is still approved, requests wait with their texts
    candidate.version.refresh_from_db()
    assert production_version().pk == base_version.pk and candidate.version.status == "approved"
    for req in candidate.requests:
        req.refresh_from_db()
        assert req.status == Status.AWAITING_RELEASE
        assert all(item.text for item in req.items.all())
    assert not ErasureCertificate.objects.exists() and not mail.outbox and pointer_read() is None
    assert not ApprovedItem.objects.exclude(erased_in_version="").exists()


@pytest.mark.django_db
def test_publish_is_refused_without_a_passed_report_or_when_production_erased_more(
    base_version, make_candidate, manager, world, django_capture_on_commit_callbacks
):
    members = world.members()
    # Given v2 published, and v3 made from v1 (a sibling) that lacks v2's requests
    v2 = make_candidate(members[:1], parent=base_version)
    v3 = make_candidate(members[1:2], parent=base_version)
    _publish(v2, manager, django_capture_on_commit_callbacks)
    release_approve(version_id=v3.version.pk, user=manager)
    # Then publishing v3 is refused: it would bring v2's erased request back
    with pytest.raises(ApplicationError, match=rf"lacks 1 request\(s\) .* \(ids {v2.requests[0].pk}\)"):
        release_publish(version_id=v3.version.pk, user=manager)
    assert production_version().number == 2
    # And a version that is not approved, or whose latest report failed, is refused
    v4 = make_candidate(members[2:3], parent=production_version())
    with pytest.raises(ApplicationError, match="Only an approved version"):
        release_publish(version_id=v4.version.pk, user=manager)
    release_approve(version_id=v4.version.pk, user=manager)
    v4.report.pk, v4.report.status = None, "failed"
    v4.report.save()
    with pytest.raises(ApplicationError, match="no passed, signed verification report"):
        release_publish(version_id=v4.version.pk, user=manager)


@pytest.mark.django_db
def test_rollback_is_refused_while_the_earlier_version_holds_data_erased_since(
    base_version, make_candidate, manager, world, django_capture_on_commit_callbacks
):
    # Given v2 published (its request completed), then v3 from v2 with no new request, published
    v2 = make_candidate(world.members()[:1], parent=base_version)
    _publish(v2, manager, django_capture_on_commit_callbacks)
    v3 = make_candidate([], parent=v2.version)
    _publish(v3, manager, django_capture_on_commit_callbacks)
    # Then rolling back to v1 is refused: v1 still holds v2's erased request
    with pytest.raises(
        ApplicationError,
        match=rf"still holds the data of 1 request\(s\) erased since \(ids {v2.requests[0].pk}\)",
    ):
        release_rollback(version_id=base_version.pk, user=manager)
    assert production_version().number == 3
    # And rolling back to v2 (which erased everything completed so far) serves v2 again
    with django_capture_on_commit_callbacks(execute=True):
        release_rollback(version_id=v2.version.pk, user=manager)
    assert production_version().number == 2 and pointer_read()["version"] == 2
    # The history of each version keeps who published it and who rolled production back to it
    history = ReleaseDecision.objects.order_by("pk").values_list(
        "model_version__number", "kind", "decided_by"
    )
    assert [row for row in history if row[1] != DecisionKind.APPROVE] == [
        (2, DecisionKind.PUBLISH, manager.pk),
        (3, DecisionKind.PUBLISH, manager.pk),
        (2, DecisionKind.ROLLBACK, manager.pk),
    ]


@pytest.mark.django_db
def test_a_certificate_verifies_and_a_tampered_one_fails(
    base_version, make_candidate, manager, world, tmp_path, django_capture_on_commit_callbacks
):
    # Given the certificate of a published request, downloaded as a file
    candidate = make_candidate(world.members()[:1], parent=base_version)
    _publish(candidate, manager, django_capture_on_commit_callbacks)
    signed = ErasureCertificate.objects.get(request=candidate.requests[0]).document
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(signed))
    # Then verify_certificate accepts it
    out = StringIO()
    call_command("verify_certificate", str(path), stdout=out)
    assert "VALID" in out.getvalue()
    # And a certificate whose count was changed fails
    signed["document"]["erased_items"] = 2
    path.write_text(json.dumps(signed))
    with pytest.raises(CommandError, match="INVALID .* changed after signing"):
        call_command("verify_certificate", str(path))
    # And a verification report is not a certificate
    path.write_text(json.dumps(candidate.report.document))
    with pytest.raises(CommandError, match="not a 'palimpsest.erasure_certificate'"):
        call_command("verify_certificate", str(path))
