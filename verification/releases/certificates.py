"""Erasure certificates: per request, a signed JSON document of what was erased (counts and sha256s,
never a text), by which model version, with that request's verification figures and the policy."""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from palimpsest.hashing import canonical_json, sha256_hex
from palimpsest.keys import signing_key
from palimpsest.signing import sign_document
from requests_app.intake.emails import absolute, current_status_token
from requests_app.models import ForgetRequest
from requests_app.review.models import ApprovedItem
from unlearn_jobs.registry.models import ModelVersion
from verification.gate.models import VerificationReport
from verification.releases.models import ErasureCertificate

KIND = "palimpsest.erasure_certificate"


def certificate_document(*, req: ForgetRequest, version: ModelVersion, report: VerificationReport) -> dict:
    hashes = sorted(ApprovedItem.objects.filter(request=req).values_list("sha256", flat=True))
    return {
        "kind": KIND,
        "request": str(req.public_id),
        "erased_items": len(hashes),
        "erased_item_sha256": hashes,
        "model_version": version.number,
        "artifact_sha256": version.artifact_sha256,
        "issued_at": timezone.now().isoformat(),
        "verification": {
            "report_id": report.pk,
            "report_sha256": report.document_sha256,
            "policy_version": report.policy.version,
            "figures": report.per_request.get(str(req.pk), {}),
        },
    }


def certificate_issue(
    *, req: ForgetRequest, version: ModelVersion, report: VerificationReport
) -> ErasureCertificate:
    signed = sign_document(certificate_document(req=req, version=version, report=report), signing_key())
    certificate, _ = ErasureCertificate.objects.update_or_create(
        request=req,
        defaults={
            "model_version": version,
            "document": signed,
            "document_sha256": sha256_hex(canonical_json(signed)),
        },
    )
    return certificate


def certificate_url(req: ForgetRequest) -> str:
    """The subject's link: the status page's current token protects the certificate page too (revoking the
    status links revokes it; a fresh status link opens it)."""
    path = reverse("verification:certificate", kwargs={"public_id": req.public_id})
    return absolute(f"{path}?{urlencode({'t': current_status_token(req)})}")
