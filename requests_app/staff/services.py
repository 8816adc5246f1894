"""Staff sign-in rules: throttles on failed sign-ins, the second factor (TOTP), API tokens.

Every door that checks a staff password (the login page, the admin) goes through one form
(`staff.forms`), which asks `signin_refusal` first and reports each failure to `signin_failed`.
"""

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from palimpsest import totp
from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_hex
from palimpsest.personal import personal_hash
from requests_app.audit import Actor, audit_append
from requests_app.intake import ratelimit
from requests_app.staff.models import ApiToken, StaffTotp

# Roles whose accounts need a second factor when PALIMPSEST_REQUIRE_TOTP is on (superusers too).
TOTP_ROLES = ("compliance_officer", "release_manager")
# The session remembers which user proved the second factor in it.
SESSION_KEY = "palimpsest_second_factor"
ISSUER = "Palimpsest"


def signin_refusal(*, username: str, client_ip: str) -> str | None:
    """Why a sign-in is refused before the password is even checked (too many failures), or None."""
    waits = [
        ratelimit.blocked("login-user", username or ""),
        ratelimit.blocked("login-ip", client_ip),
    ]
    wait = max((w for w in waits if w), default=None)
    if wait is None:
        return None
    return f"Too many failed sign-ins. Please try again in {ratelimit.in_minutes(wait)}."


def signin_failed(*, username: str, client_ip: str, user_id: int | None, reason: str) -> None:
    """Count a failed sign-in against the account and the address, and audit it (hashes only)."""
    for name, identity in (("login-user", username or ""), ("login-ip", client_ip)):
        try:
            ratelimit.hit(name, identity)
        except ratelimit.RateLimited:
            pass  # the next attempt is refused by signin_refusal
    audit_append(
        actor=Actor.system(),
        action="staff.signin_failed",
        object_type="auth.user",
        object_id=str(user_id or ""),
        data={"failed": reason, "username_sha256": personal_hash((username or "").lower())},
    )


def totp_required(user) -> bool:
    if not settings.PALIMPSEST_REQUIRE_TOTP or not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name__in=TOTP_ROLES).exists()


def totp_enrolled(user) -> bool:
    return StaffTotp.objects.filter(user=user, confirmed_at__isnull=False).exists()


def totp_pending_secret(*, user) -> str:
    """The secret an account is enrolling with (made on first call); refused once enrolment is done."""
    record, _ = StaffTotp.objects.get_or_create(user=user, defaults={"secret": totp.new_secret()})
    if record.confirmed_at is not None:
        raise ApplicationError("This account already has a second factor.")
    return record.secret


def totp_uri(*, user, secret: str) -> str:
    return totp.provisioning_uri(secret, account=user.get_username(), issuer=ISSUER)


@transaction.atomic
def totp_confirm(*, user, code: str) -> StaffTotp:
    """Finish enrolment with a code from the app, which proves the app holds the secret."""
    record = StaffTotp.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if record is None:
        raise ApplicationError("Start again: open the enrolment page to get a secret.")
    step = totp.matching_step(record.secret, code, timezone.now().timestamp())
    if step is None:
        raise ApplicationError("That code is not right. Check the clock of your device and try the next one.")
    record.confirmed_at, record.last_step = timezone.now(), step
    record.save(update_fields=["confirmed_at", "last_step"])
    audit_append(
        actor=Actor.user(user), action="staff.totp_enrolled", object_type="auth.user", object_id=str(user.pk)
    )
    return record


@transaction.atomic
def totp_verify(*, user, code: str) -> bool:
    """A sign-in code: right for now (one step of drift) and newer than the last one used."""
    record = StaffTotp.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if record is None:
        return False
    step = totp.matching_step(record.secret, code, timezone.now().timestamp())
    if step is None or step <= record.last_step:
        return False
    record.last_step = step
    record.save(update_fields=["last_step"])
    return True


def api_token_create(*, user, name: str) -> str:
    """A new token for an integration; the key is shown once and kept only as its sha256."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name[:100], key_sha256=sha256_hex(key))
    audit_append(
        actor=Actor.system(),
        action="staff.api_token_created",
        object_type="auth.user",
        object_id=str(user.pk),
    )
    return key


def api_token_user(key: str):
    """The active user behind a token, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_sha256=sha256_hex(key), revoked=False, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
