"""Writes of the generation side: issue, revoke and authenticate API tokens."""

import secrets

from django.db import transaction
from django.utils import timezone

from palimpsest.hashing import sha256_hex
from requests_app.audit import Actor, audit_append
from verification.generation.models import ApiToken


@transaction.atomic
def api_token_issue(*, name: str, user) -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and never stored."""
    raw = f"plm_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(name=name, prefix=raw[:8], token_sha256=sha256_hex(raw), created_by=user)
    audit_append(actor=Actor.user(user), action="api_token.issued", obj=token, data={"prefix": token.prefix})
    return token, raw


@transaction.atomic
def api_token_revoke(*, token_id: int, user) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_append(
            actor=Actor.user(user), action="api_token.revoked", obj=token, data={"prefix": token.prefix}
        )
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    token = ApiToken.objects.filter(token_sha256=sha256_hex(raw), revoked_at__isnull=True).first()
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
