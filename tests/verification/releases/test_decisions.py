"""Release decisions: four-eyes (not the job's starter, not an approving officer of its requests), a
refusal fails the version and sends its requests back to be batched, and the history is kept."""

import pytest

from palimpsest.errors import ApplicationError
from requests_app.models import AuditEvent, Status
from requests_app.review.models import ApprovalVote, DecisionKind, ReviewDecision
from verification.releases.models import ReleaseDecision
from verification.releases.services import release_approve, release_publish, release_refuse


@pytest.mark.django_db
def test_the_job_starter_and_the_approving_officers_may_not_approve(
    base_version, make_candidate, world, make_user, operator_user, manager
):
    # Given a candidate whose job an operator started, and whose requests two officers approved
    candidate = make_candidate(world.members()[:2], parent=base_version)
    voter = make_user("olga", "compliance_officer", "release_manager")
    decider = make_user("oscar", "compliance_officer", "release_manager")
    ApprovalVote.objects.create(request=candidate.requests[0], officer=voter)
    ReviewDecision.objects.create(request=candidate.requests[1], kind=DecisionKind.APPROVE, officer=decider)
    operator_user.groups.add(*manager.groups.all())
    # Then none of them may approve or refuse it
    for user in (operator_user, voter, decider):
        with pytest.raises(ApplicationError, match="four-eyes"):
            release_approve(version_id=candidate.version.pk, user=user)
        with pytest.raises(ApplicationError, match="four-eyes"):
            release_refuse(version_id=candidate.version.pk, user=user, comment="no")
    candidate.version.refresh_from_db()
    assert candidate.version.status == "verified" and not ReleaseDecision.objects.exists()
    # And an uninvolved release manager may
    release_approve(version_id=candidate.version.pk, user=manager, comment="figures are fine")
    candidate.version.refresh_from_db()
    assert candidate.version.status == "approved"
    assert list(ReleaseDecision.objects.values_list("kind", "decided_by", "comment")) == [
        ("approve", manager.pk, "figures are fine")
    ]


@pytest.mark.django_db
def test_refusing_fails_the_version_and_sends_its_requests_back(
    base_version, make_candidate, world, manager, second_manager
):
    # Given an approved candidate
    candidate = make_candidate(world.members()[:2], parent=base_version)
    release_approve(version_id=candidate.version.pk, user=manager)
    # When a release manager refuses it without a reason, then with one
    with pytest.raises(ApplicationError, match="Say why"):
        release_refuse(version_id=candidate.version.pk, user=second_manager, comment="  ")
    release_refuse(version_id=candidate.version.pk, user=second_manager, comment="utility drop too large")
    # Then the version failed and can be neither published nor approved, its requests are approved again
    candidate.version.refresh_from_db()
    assert candidate.version.status == "verification_failed"
    for req in candidate.requests:
        req.refresh_from_db()
        assert req.status == Status.APPROVED
        assert AuditEvent.objects.filter(action="release.refused", object_id=str(req.pk)).exists()
    with pytest.raises(ApplicationError, match="Only an approved version"):
        release_publish(version_id=candidate.version.pk, user=manager)
    with pytest.raises(ApplicationError, match="Only a verified version"):
        release_approve(version_id=candidate.version.pk, user=manager)
    # And the history keeps both decisions, newest first
    assert list(ReleaseDecision.objects.values_list("kind", "decided_by")) == [
        ("refuse", second_manager.pk),
        ("approve", manager.pk),
    ]


@pytest.mark.django_db
def test_a_version_without_a_passed_report_cannot_be_approved(base_version, make_candidate, world, manager):
    candidate = make_candidate(world.members()[:1], parent=base_version)
    candidate.report.status, candidate.report.passed = "failed", False
    candidate.report.save()
    with pytest.raises(ApplicationError, match="no passed, signed verification report"):
        release_approve(version_id=candidate.version.pk, user=manager)
    candidate.version.refresh_from_db()
    assert candidate.version.status == "verified"
