"""A release manager works a release in a real browser: signs in, finds the verified candidate in the list
of versions, opens it, reads its verification report (a real gate run on the tiny world: the candidate's
weights are the model retrained without the two forgotten people), approves it with a comment and
publishes it. The subject then opens the certificate link of the e-mail. Screenshots of each page go to
test-artifacts/releases/."""

import re

import pytest
from django.core import mail

from requests_app.models import ForgetRequest, Status
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot, sign_in
from unlearn_jobs.registry.models import ModelAlias, VersionStatus
from verification.gate import services as gate
from verification.gate.models import ReportStatus
from verification.releases.models import ErasureCertificate


def shot(page, name: str) -> None:
    screenshot(page, "releases", name)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_release_manager_reads_the_report_approves_and_publishes(
    page, live_server, candidate, forgotten_requests, tiny_world_retrained, release_manager, job_roles
):
    # Given a candidate v2 that the gate verified for real
    job, requests = forgotten_requests
    version = candidate(tiny_world_retrained.model_dir)
    report = gate.verification_run(report_id=gate.verification_start(version_id=version.pk).pk)
    assert report.status == ReportStatus.PASSED

    # The release pages ask for a login first
    sign_in(page, f"{live_server.url}/releases/", release_manager, PASSWORD)

    # The list: v2 verified, from v1, which is in production
    rows = page.locator("tbody tr")
    v2 = rows.filter(has=page.get_by_role("link", name="v2", exact=True))
    assert "Verified" in v2.inner_text() and "from v1" in v2.inner_text()
    assert f"job {job.pk}" in v2.inner_text() and "Passed" in v2.inner_text()
    v1 = rows.filter(has=page.get_by_role("link", name="v1", exact=True))
    assert "production" in v1.inner_text()
    shot(page, "1-versions")

    # The candidate's page links its report; the report shows the verdict, the checks and each request
    v2.get_by_role("link", name="v2", exact=True).click()
    page.wait_for_url(f"{live_server.url}/releases/v2/")
    assert page.get_by_role("heading", name="Model version 2").is_visible()
    page.get_by_role("link", name="read the report").click()
    page.wait_for_url(f"{live_server.url}/verification/v2/")
    verdict = page.locator("section", has=page.get_by_role("heading", name="Verdict"))
    assert "Passed" in verdict.inner_text() and "may be released" in verdict.inner_text()
    checks = page.locator("section", has=page.get_by_role("heading", name="Checks")).locator("tbody tr")
    assert checks.count() == len(report.checks["checks"]) > 0
    assert checks.filter(has_text="fail").count() == 0
    per_request = page.locator("section", has=page.get_by_role("heading", name="Per request"))
    for req in requests:
        assert f"#{req.pk}" in per_request.inner_text()
    assert page.get_by_role("link", name="Download the signed report (JSON)").is_visible()
    shot(page, "2-report")

    # On the candidate's page (linked from the report), the release manager approves with a comment
    page.get_by_role("link", name="release page of v2").click()
    page.wait_for_url(f"{live_server.url}/releases/v2/")
    page.get_by_label("Comment").fill("Leak bound and utility within policy; approved.")
    page.get_by_role("button", name="Approve for release").click()
    page.wait_for_url(f"{live_server.url}/releases/v2/")
    assert "Approved" in page.locator("p.muted").first.inner_text()
    decisions = page.locator("section", has=page.get_by_role("heading", name="Decisions"))
    assert (
        "Approve" in decisions.inner_text()
        and "Leak bound and utility within policy" in decisions.inner_text()
    )
    assert page.get_by_role("button", name="Approve for release").count() == 0
    shot(page, "3-approved")

    # ... and publishes: v2 is in production, v1 superseded, the requests completed
    page.get_by_role("button", name="Publish to production").click()
    page.wait_for_url(f"{live_server.url}/releases/v2/")
    header = page.locator("p.muted").first.inner_text()
    assert "Published" in header and "production" in header
    assert page.get_by_text("Nothing to decide: v2 is published.").is_visible()
    assert "Published to production by rita" in decisions.inner_text()
    shot(page, "4-published")
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED
    assert ModelAlias.objects.get(name="production").version_id == version.pk
    assert version.parent.status == VersionStatus.SUPERSEDED
    assert set(
        ForgetRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list("status", flat=True)
    ) == {Status.COMPLETED}
    page.get_by_role("link", name="Releases", exact=True).click()
    page.wait_for_url(f"{live_server.url}/releases/")
    v1 = page.locator("tbody tr").filter(has=page.get_by_role("link", name="v1", exact=True))
    assert "Superseded" in v1.inner_text() and "production" not in v1.inner_text()
    shot(page, "5-versions-after")

    # Each subject got a certificate e-mail; its link opens the certificate page
    certificate_mails = [m for m in mail.outbox if "certificate" in m.body.lower()]
    assert sorted(m.to[0] for m in certificate_mails) == sorted(r.requester_email for r in requests)
    first = requests[0]
    mine = next(m for m in certificate_mails if m.to == [first.requester_email])
    link = re.search(r"https?://\S+/certificates/\S+", mine.body).group(0)
    page.goto(live_server.url + link[link.index("/certificates/") :])
    assert page.get_by_role("heading", name="Erasure certificate").is_visible()
    assert str(first.public_id) in page.content() and "model version 2" in page.content()
    figures = page.locator("section", has=page.get_by_role("heading", name="What we measured")).inner_text()
    assert "The version passed verification" in figures and "passed\tyes" in figures
    assert "forget/greedy_leak_rate\t0.00 %" in figures
    assert ErasureCertificate.objects.filter(request=first).exists()
    shot(page, "6-certificate")
