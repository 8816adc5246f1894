"""What is kept, and for how long: texts go when a request closes (expiry included), names and addresses
after the retention period, and every hash of personal data is keyed by the pepper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from palimpsest.hashing import hmac_sha256_hex, sha256_hex
from requests_app import services
from requests_app.intake import services as intake_services
from requests_app.models import AuditEvent, ForgetItem, ForgetRequest, ReviewDecision, Status
from requests_app.review import services as review_services
from tests.requests_app.factories import in_review, make_request
from tests.requests_app.intake.support import form_data

pytestmark = pytest.mark.django_db


def test_an_expired_request_loses_its_texts():
    # Given a request never confirmed, past its confirmation window
    req = make_request(texts=("Ana Vell lives at 4 Quay Road.",), concept_description="my address")
    ForgetRequest.objects.filter(pk=req.pk).update(received_at=timezone.now() - timedelta(days=2))
    # When the periodic expiry runs
    assert intake_services.forget_request_expire_unconfirmed() == [req.pk]
    # Then its texts are gone, only hashes remain
    item = ForgetItem.objects.get(request=req)
    assert item.text == "" and item.text_deleted_at is not None and item.sha256
    assert ForgetRequest.objects.get(pk=req.pk).concept_description == ""
    assert AuditEvent.objects.filter(action="request.texts_erased", object_id=str(req.pk)).count() == 1


def test_names_and_addresses_of_closed_requests_are_minimised_after_the_retention_period(settings):
    settings.PALIMPSEST_CLOSED_RETENTION_DAYS = 30
    now = timezone.now()
    old = make_request(status=Status.REJECTED, closed_at=now - timedelta(days=31))
    recent = make_request(status=Status.REJECTED, closed_at=now - timedelta(days=29))
    still_open = in_review()
    # When the periodic minimisation runs
    assert services.forget_requests_minimise_closed() == [old.pk]
    # Then only the request closed longer ago than the period loses its name and address
    old.refresh_from_db()
    assert (old.requester_name, old.requester_email) == ("", "") and old.minimised_at is not None
    for kept in (recent, still_open):
        kept.refresh_from_db()
        assert kept.requester_email == "ana.vell@example.org" and kept.requester_name == "Ana Vell"
    assert services.forget_requests_minimise_closed() == []  # safe to run twice


def test_every_hash_of_personal_data_is_keyed_by_the_pepper(client, settings, officer, isolated_cache):
    settings.PALIMPSEST_PEPPER = "a-pepper-only-the-deployment-knows"
    # Given a request with a short, guessable item and a short rejection reason
    client.post("/forget/", form_data(text="+44 123 4567"))
    item = ForgetItem.objects.get()
    req = in_review()
    review_services.forget_request_reject(request_id=req.pk, officer=officer, reason="Legal claims.")
    # Then no stored hash is the plain SHA-256 anyone could test guesses against
    assert item.sha256 != sha256_hex("+44 123 4567")
    assert item.sha256 == hmac_sha256_hex(settings.PALIMPSEST_PEPPER, "+44 123 4567")
    decision = ReviewDecision.objects.get(request=req)
    assert decision.reason_sha256 == hmac_sha256_hex(settings.PALIMPSEST_PEPPER, "Legal claims.")
    event = AuditEvent.objects.get(action="review.reject")
    assert event.data["reason_sha256"] != sha256_hex("Legal claims.")
