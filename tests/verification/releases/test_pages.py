"""The release pages: what each role may see and do (every page and endpoint), the pages' content,
and the subject's certificate behind its token."""

import pytest
from django.urls import reverse

from requests_app.intake.emails import current_status_token
from requests_app.intake.identity import status_token
from requests_app.intake.status_links import forget_request_status_links_revoke
from verification.releases.services import release_approve, release_publish

PAGES = ["verification:releases", "verification:release"]
ACTIONS = [
    "verification:release-approve",
    "verification:release-refuse",
    "verification:release-publish",
    "verification:release-rollback",
]


def _url(name: str, number: int) -> str:
    return reverse(name) if name == "verification:releases" else reverse(name, args=[number])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "may_view", "may_act"),
    [
        (None, False, False),
        ("", False, False),
        ("compliance_officer", True, False),
        ("ml_operator", True, False),
        ("release_manager", True, True),
    ],
)
def test_permission_matrix_over_every_release_page_and_endpoint(
    role, may_view, may_act, base_version, make_candidate, world, make_user, client
):
    # Given a verified candidate v2 and a visitor in `role` (None: anonymous; "": signed in, no role)
    make_candidate(world.members()[:1], parent=base_version)
    if role is not None:
        client.force_login(make_user("visitor", *([role] if role else [])))
    for name in PAGES:
        response = client.get(_url(name, 2))
        if role is None:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], name
        else:
            assert response.status_code == (200 if may_view else 403), name
    for name in ACTIONS:
        response = client.post(_url(name, 2), {"comment": "checked"})
        if role is None:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], name
        elif not may_act:
            assert response.status_code == 403, name
        else:
            # Allowed to act: the service decides (a redirect when done, a 400 with the reason when not)
            assert response.status_code in (302, 400), name
        assert client.get(_url(name, 2)).status_code == 405, name


@pytest.mark.django_db
def test_the_pages_show_lineage_and_verdict_and_the_buttons_work(
    base_version, make_candidate, world, make_user, client
):
    candidate = make_candidate(world.members()[:2], parent=base_version)
    client.force_login(make_user("rita", "release_manager"))
    listing = client.get(reverse("verification:releases")).content.decode()
    assert "v2" in listing and "from v1" in listing and f"job {candidate.job.pk}" in listing
    assert reverse("verification:report", args=[2]) in listing and "production" in listing
    assert '<a href="/releases/">Releases</a>' in listing  # the navigation of a release manager
    page = client.get(reverse("verification:release", args=[2])).content.decode()
    assert reverse("verification:release-approve", args=[2]) in page
    assert reverse("verification:release-publish", args=[2]) not in page
    # Publishing before approval is refused with the reason, approving then publishing works
    refused = client.post(reverse("verification:release-publish", args=[2]))
    assert refused.status_code == 400 and "Only an approved version" in refused.content.decode()
    assert client.post(reverse("verification:release-approve", args=[2])).status_code == 302
    page = client.get(reverse("verification:release", args=[2])).content.decode()
    assert reverse("verification:release-publish", args=[2]) in page


@pytest.mark.django_db
def test_the_certificate_page_needs_the_subjects_token(
    base_version, make_candidate, world, manager, client, django_capture_on_commit_callbacks
):
    candidate = make_candidate(world.members()[:1], parent=base_version)
    release_approve(version_id=candidate.version.pk, user=manager)
    with django_capture_on_commit_callbacks(execute=True):
        release_publish(version_id=candidate.version.pk, user=manager)
    req = candidate.requests[0]
    for name in ("verification:certificate", "verification:certificate-json"):
        url = reverse(name, kwargs={"public_id": req.public_id})
        assert client.get(url).status_code == 404
        assert client.get(url, {"t": "wrong"}).status_code == 404
        response = client.get(url, {"t": status_token(req.public_id)})
        assert response.status_code == 200 and str(req.public_id) in response.content.decode()
    # The status page of a completed request links the certificate with its own token
    status = client.get(
        reverse("requests_app:status", kwargs={"public_id": req.public_id}),
        {"t": status_token(req.public_id)},
    )
    assert "Your erasure certificate" in status.content.decode()
    # Revoking the status links revokes the certificate link too; the fresh link opens it
    old_token = status_token(req.public_id)
    req = forget_request_status_links_revoke(public_id=req.public_id)
    url = reverse("verification:certificate", kwargs={"public_id": req.public_id})
    assert client.get(url, {"t": old_token}).status_code == 404
    assert client.get(url, {"t": current_status_token(req)}).status_code == 200
