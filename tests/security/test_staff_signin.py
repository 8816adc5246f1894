"""Staff sign-in: throttled per account and per client address on every door (login page, admin), and a
second factor (TOTP, RFC 6238) that PALIMPSEST_REQUIRE_TOTP makes compulsory for officers and release
managers."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from palimpsest import totp
from requests_app.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
DOORS = ["/accounts/login/", "/admin/login/"]


def sign_in(client, door, username, password, ip="203.0.113.5", **extra):
    return client.post(door, {"username": username, "password": password, **extra}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("door", DOORS)
def test_an_account_locks_after_five_wrong_passwords_from_anywhere(door, make_user):
    # Given an account, and an attacker guessing its password from changing addresses
    user = make_user("olga", "compliance_officer")
    user.is_staff = True
    user.save()
    for attempt in range(5):
        assert not signed_in(c := Client()) and sign_in(
            c, door, "olga", f"guess-{attempt}", ip=f"198.51.100.{attempt}"
        )
    # Then the sixth try is refused with a message, even with the right password and from a new address
    client = Client()
    response = sign_in(client, door, "olga", PASSWORD, ip="192.0.2.77")
    assert response.status_code == 200 and not signed_in(client)
    assert "Too many failed sign-ins" in response.content.decode()
    assert AuditEvent.objects.filter(action="staff.signin_failed").count() >= 5


@pytest.mark.parametrize("door", DOORS)
def test_one_address_cannot_spray_many_accounts(door, make_user, settings):
    settings.PALIMPSEST_RATE_LIMITS = {"login-ip": (8, 900)}
    make_user("dana", "compliance_officer")
    for n in range(8):
        sign_in(Client(), door, f"user-{n}", "wrong")
    client = Client()
    response = sign_in(client, door, "dana", PASSWORD)
    assert not signed_in(client) and "Too many failed sign-ins" in response.content.decode()
    # Another address is not affected
    other = Client()
    sign_in(other, "/accounts/login/", "dana", PASSWORD, ip="192.0.2.200")
    assert signed_in(other)


def test_totp_matches_the_rfc_6238_test_vectors():
    # RFC 6238 appendix B, SHA-1, the 20-byte key "12345678901234567890", 8 digits
    secret = totp.base32_secret(b"12345678901234567890")
    for moment, code in [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (20000000000, "65353130"),
    ]:
        assert totp.code_at(secret, moment, digits=8) == code


def test_an_officer_must_enrol_a_second_factor_and_then_use_it(make_user, settings):
    settings.PALIMPSEST_REQUIRE_TOTP = True
    make_user("olga", "compliance_officer")
    client = Client()
    # Given an officer who signs in with the password only
    assert sign_in(client, "/accounts/login/", "olga", PASSWORD).status_code == 302
    # Then the review queue sends them to enrol first, on a page that shows the secret as an otpauth URI
    response = client.get(reverse("review:queue"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("totp-enrol"))
    api = client.get(reverse("api-review-queue"))
    assert api.status_code == 403 and "second factor" in api.json()["error"]
    page = client.get(reverse("totp-enrol")).content.decode()
    secret = page.split('data-secret="', 1)[1].split('"', 1)[0]
    assert f"otpauth://totp/Palimpsest:olga?secret={secret}" in page.replace("&amp;", "&")
    # When they confirm with a code from their app
    assert client.post(reverse("totp-enrol"), {"code": totp.code_at(secret, time.time())}).status_code == 302
    assert client.get(reverse("review:queue")).status_code == 200
    # Then the next sign-in needs a code: none or a wrong one is refused, the right one works once
    for extra in ({}, {"otp": "000000" if totp.code_at(secret, time.time()) != "000000" else "111111"}):
        refused = Client()
        sign_in(refused, "/accounts/login/", "olga", PASSWORD, **extra)
        assert not signed_in(refused)
    good = Client()
    # (the code of the current step went on enrolling; the app's next one is accepted, one step of drift)
    code = totp.code_at(secret, time.time() + totp.STEP_SECONDS)
    sign_in(good, "/accounts/login/", "olga", PASSWORD, otp=code)
    assert signed_in(good) and good.get(reverse("review:queue")).status_code == 200
    replay = Client()
    sign_in(replay, "/accounts/login/", "olga", PASSWORD, otp=code)
    assert not signed_in(replay), "a code is good for one sign-in only"


def test_the_embedded_mode_does_not_require_a_second_factor(make_user, settings):
    settings.PALIMPSEST_REQUIRE_TOTP = False
    make_user("olga", "compliance_officer")
    client = Client()
    sign_in(client, "/accounts/login/", "olga", PASSWORD)
    assert signed_in(client) and client.get(reverse("review:queue")).status_code == 200
