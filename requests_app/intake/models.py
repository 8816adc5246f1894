"""Intake records: the e-mail identity check of a request."""

from django.db import models


class IdentityCheck(models.Model):
    """The e-mail confirmation of a request: a one-time link and a 6-digit code, both stored hashed."""

    request = models.OneToOneField(
        "requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="identity_check"
    )
    # HMAC-SHA256 (keyed by SECRET_KEY, salted per request) of the code and of the link token.
    code_hash = models.CharField(max_length=64)
    link_token_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A requester whose e-mail went missing can ask for a new code (which replaces the old one).
    codes_sent = models.PositiveSmallIntegerField(default=1)
    last_sent_at = models.DateTimeField(null=True, blank=True)  # None: only the first e-mail, at created_at

    def __str__(self) -> str:
        return f"Identity check of request {self.request_id}"
