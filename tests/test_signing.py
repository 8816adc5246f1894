"""Signed documents (reports, certificates): a valid signature verifies, any change or foreign key fails."""

import base64
import copy
import os

import pytest

from palimpsest import keys
from palimpsest.signing import (
    load_signed,
    new_seed,
    private_key_from_seed,
    public_key_bytes,
    sign_document,
    verify_document,
)

REPORT = {
    "kind": "verification_report",
    "version": 3,
    "figures": {"leak_bound": 0.035},
    "sha256": ["ab" * 32],
}


def test_a_signed_document_verifies_with_the_trusted_key():
    key = private_key_from_seed(new_seed())
    signed = sign_document(REPORT, key)
    verdict = verify_document(signed, trusted_public_keys=[public_key_bytes(key)])
    assert verdict.valid and verdict.key_id == signed["signature"]["key_id"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["document"]["figures"].update(leak_bound=0.001),
        lambda d: d["document"]["sha256"].append("cd" * 32),
        lambda d: d["document"].update(version=4),
    ],
)
def test_any_change_after_signing_is_detected(tamper):
    key = private_key_from_seed(new_seed())
    signed = sign_document(REPORT, key)
    tampered = copy.deepcopy(signed)
    tamper(tampered)
    verdict = verify_document(tampered, trusted_public_keys=[public_key_bytes(key)])
    assert not verdict.valid and "changed after signing" in verdict.reason


def test_a_document_signed_with_a_key_of_ones_own_is_refused():
    # Given a forger who re-signs an edited report with their own key, carried inside the file
    platform, forger = private_key_from_seed(new_seed()), private_key_from_seed(new_seed())
    forged = sign_document({**REPORT, "figures": {"leak_bound": 0.0}}, forger)
    # Then the platform's key is the only one trusted
    verdict = verify_document(forged, trusted_public_keys=[public_key_bytes(platform)])
    assert not verdict.valid and "not a trusted key" in verdict.reason


@pytest.mark.parametrize("text", ["[]", '{"format": "other"}', '{"format": "palimpsest-signed/1"}', "{"])
def test_malformed_files_get_a_reason_not_an_exception(text):
    try:
        signed = load_signed(text)
    except ValueError as error:
        assert "not JSON" in str(error)
        return
    verdict = verify_document(signed, trusted_public_keys=[])
    assert not verdict.valid and verdict.reason


def test_the_embedded_key_file_is_made_once_readable_by_its_owner_only(settings, tmp_path):
    settings.PALIMPSEST_SIGNING_KEY = ""
    settings.PALIMPSEST_SIGNING_KEY_FILE = tmp_path / "keys" / "signing.key"
    first = public_key_bytes(keys.signing_key())
    assert public_key_bytes(keys.signing_key()) == first
    assert os.stat(settings.PALIMPSEST_SIGNING_KEY_FILE).st_mode & 0o777 == 0o600


def test_a_rotated_key_still_verifies_what_it_signed(settings, tmp_path):
    # Given a document signed with the old key, then a new key in the environment
    old_seed, new = new_seed(), new_seed()
    signed = sign_document(REPORT, private_key_from_seed(old_seed))
    settings.PALIMPSEST_SIGNING_KEY = base64.b64encode(new).decode()
    assert not verify_document(signed, trusted_public_keys=keys.trusted_public_keys()).valid
    # When the old public key is listed as still trusted, it verifies again
    old_public = public_key_bytes(private_key_from_seed(old_seed))
    settings.PALIMPSEST_SIGNING_TRUSTED_KEYS = [base64.b64encode(old_public).decode()]
    assert verify_document(signed, trusted_public_keys=keys.trusted_public_keys()).valid
