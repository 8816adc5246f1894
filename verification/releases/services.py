"""Every write of the release: approve or refuse a verified version (four-eyes), publish it (alias,
requests completed, items marked erased, texts erased, certificates: one transaction), roll back.

Texts are erased at publish, inside the publish transaction: from then on the production model no
longer holds them, rebases recover erased texts from the training corpus by sha256, and the only
copies left are in superseded weights, which the purge deletes. A failed publish rolls the erasure
back with everything else.
"""

from django.db import transaction

from palimpsest.errors import ApplicationError
from requests_app.audit import Actor, audit_append
from requests_app.intake import emails
from requests_app.models import ForgetRequest, Status
from requests_app.review.services import approved_items_mark_erased
from requests_app.services import apply_transition, lock_request
from unlearn_jobs.registry.models import AliasName, ModelAlias, ModelVersion, VersionStatus
from unlearn_jobs.registry.selectors import missing_request_ids, production_version
from unlearn_jobs.registry.services import model_version_publish, model_version_transition
from verification.releases import selectors
from verification.releases.certificates import certificate_issue, certificate_url
from verification.releases.models import DecisionKind, ReleaseDecision
from verification.releases.pointer import pointer_write


def _lock_version(version_id: int) -> ModelVersion:
    return (
        ModelVersion.objects.select_for_update(of=("self",)).select_related("produced_by").get(pk=version_id)
    )


def _refuse_conflicted(version: ModelVersion, user) -> None:
    if user.pk in selectors.conflicted_user_ids(version):
        raise ApplicationError(
            f"You started the job of v{version.number} or approved one of its requests: "
            "another release manager must decide (four-eyes)."
        )


@transaction.atomic
def release_approve(*, version_id: int, user, comment: str = "") -> ReleaseDecision:
    version = _lock_version(version_id)
    if version.status != VersionStatus.VERIFIED:
        raise ApplicationError(
            f"Only a verified version can be approved; v{version.number} is "
            f"{version.get_status_display().lower()}."
        )
    if not selectors.report_passed(version):
        raise ApplicationError(f"v{version.number} has no passed, signed verification report.")
    _refuse_conflicted(version, user)
    model_version_transition(
        version_id=version.pk,
        to=VersionStatus.APPROVED,
        actor=Actor.user(user),
        expected=VersionStatus.VERIFIED,
    )
    decision = ReleaseDecision.objects.create(
        model_version=version, kind=DecisionKind.APPROVE, comment=comment, decided_by=user
    )
    audit_append(
        actor=Actor.user(user), action="release.approved", obj=version, data={"decision_id": decision.pk}
    )
    return decision


@transaction.atomic
def release_refuse(*, version_id: int, user, comment: str) -> ReleaseDecision:
    """The version fails (never published, purged later) and its requests go back to be batched again."""
    if not comment.strip():
        raise ApplicationError("Say why the version is refused.")
    version = _lock_version(version_id)
    if version.status not in (VersionStatus.VERIFIED, VersionStatus.APPROVED):
        raise ApplicationError(
            f"Only a verified or approved version can be refused; v{version.number} is "
            f"{version.get_status_display().lower()}."
        )
    _refuse_conflicted(version, user)
    actor = Actor.user(user)
    model_version_transition(version_id=version.pk, to=VersionStatus.VERIFICATION_FAILED, actor=actor)
    for request_id in selectors.job_request_ids(version):
        req = lock_request(request_id=request_id)
        if req.status == Status.AWAITING_RELEASE:
            apply_transition(
                req,
                to=Status.APPROVED,
                actor=actor,
                action="release.refused",
                data={"version": version.number},
            )
    decision = ReleaseDecision.objects.create(
        model_version=version, kind=DecisionKind.REFUSE, comment=comment, decided_by=user
    )
    audit_append(actor=actor, action="release.refused", obj=version, data={"decision_id": decision.pk})
    return decision


def _send_completed(req: ForgetRequest) -> None:
    emails.send_completed(req, certificate_url(req))


@transaction.atomic
def release_publish(*, version_id: int, user) -> ModelVersion:
    """Production moves to the version; its job's requests are completed, certified and their texts
    erased. All in one transaction; the pointer file and the e-mails follow the commit."""
    ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    version = _lock_version(version_id)
    if version.status != VersionStatus.APPROVED:
        raise ApplicationError(
            f"Only an approved version can be published; v{version.number} is "
            f"{version.get_status_display().lower()}."
        )
    report = selectors.latest_report(version)
    if not selectors.report_passed(version):
        raise ApplicationError(f"v{version.number} has no passed, signed verification report.")
    production = production_version()
    missing = missing_request_ids(version=version, against=production) if production else []
    if missing:
        raise ApplicationError(
            f"v{version.number} lacks {len(missing)} request(s) that production v{production.number} "
            f"has erased (ids {', '.join(map(str, missing[:10]))}): publishing it would bring their data back."
        )
    actor = Actor.user(user)
    model_version_publish(version_id=version.pk, actor=actor)
    request_ids = selectors.job_request_ids(version)
    completed = []
    for request_id in request_ids:
        req = lock_request(request_id=request_id)
        apply_transition(
            req,
            to=Status.COMPLETED,
            actor=actor,
            action="release.published",
            data={"version": version.number},
        )
        certificate_issue(req=req, version=version, report=report)  # completing it erased its texts
        completed.append(req)
    approved_items_mark_erased(request_ids=request_ids, version_label=version.label)
    ReleaseDecision.objects.create(model_version=version, kind=DecisionKind.PUBLISH, decided_by=user)
    version.refresh_from_db()
    transaction.on_commit(lambda: pointer_write(version=version))
    # One subject's mail server failing must not keep the others from their certificate (it is logged).
    for req in completed:
        transaction.on_commit(lambda req=req: _send_completed(req), robust=True)
    return version


@transaction.atomic
def release_rollback(*, version_id: int, user) -> ModelVersion:
    """Serve an earlier version again; refused when it still holds data erased since."""
    # The alias first, then the version: the order publish takes them in, so the two never deadlock.
    ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    version = _lock_version(version_id)
    if version.status != VersionStatus.SUPERSEDED:
        raise ApplicationError(
            f"Only a superseded version can be rolled back to; v{version.number} is "
            f"{version.get_status_display().lower()}."
        )
    erased = selectors.erased_since(version)
    if erased:
        raise ApplicationError(
            f"v{version.number} still holds the data of {len(erased)} request(s) erased since "
            f"(ids {', '.join(map(str, erased[:10]))}): rolling back would bring it back."
        )
    model_version_publish(version_id=version.pk, actor=Actor.user(user))
    ReleaseDecision.objects.create(model_version=version, kind=DecisionKind.ROLLBACK, decided_by=user)
    audit_append(
        actor=Actor.user(user), action="release.rolled_back", obj=version, data={"number": version.number}
    )
    version.refresh_from_db()
    transaction.on_commit(lambda: pointer_write(version=version))
    return version
