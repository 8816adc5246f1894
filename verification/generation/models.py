"""API tokens of the generation endpoint: issued by an administrator, stored as a sha256 only."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    name = models.CharField(max_length=100, help_text="Who or what uses it (an integration's name).")
    prefix = models.CharField(max_length=8, help_text="The token's first characters, to recognise it.")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
