"""The suppression guard's records: sha256 fingerprints of approved content, never the text."""

from django.db import models


class SuppressionFingerprint(models.Model):
    """One sha256 of a normalised n-gram or protected value of an approved item; never the text.

    The guard keeps refusing approved content after the texts are erased at completion.
    """

    class Kind(models.TextChoices):
        NGRAM = "ngram", "Word n-gram"
        EMAIL = "email", "E-mail address"
        PHONE = "phone", "Phone number"
        ADDRESS = "address", "Street address"
        # Weak alone (many people share a name; dates are everywhere): they count together.
        NAME = "name", "Requester's name"
        DATE = "date", "Date"

    request = models.ForeignKey(
        "requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="suppression_fingerprints"
    )
    item = models.ForeignKey(
        "requests_app.ForgetItem",
        null=True,
        on_delete=models.SET_NULL,
        related_name="suppression_fingerprints",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Words in the normalised form that was hashed (0 for phone numbers, matched on digits).
    words = models.PositiveSmallIntegerField()
    # How many distinct n-grams the item has (see guard.ngram_hits_needed).
    group_size = models.PositiveIntegerField(default=1)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["sha256"], name="suppression_sha256")]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "item", "kind", "sha256"], name="suppression_unique_fingerprint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} fingerprint of request {self.request_id}"
