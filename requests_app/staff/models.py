"""Staff records: the second factor (TOTP) of an account, and API tokens for integrations (hashed)."""

from django.conf import settings
from django.db import models


class StaffTotp(models.Model):
    """An account's TOTP secret; it counts only once confirmed with a code from the app."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last time step whose code was accepted: a code is good for one sign-in only.
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Second factor of user {self.user_id}"


class ApiToken(models.Model):
    """A bearer token for an integration, acting as its user; only its sha256 is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. the case-management system.")
    key_sha256 = models.CharField(max_length=64, unique=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token {self.name!r} of user {self.user_id}"
