"""What compliance officers decide: approval votes (four-eyes), item choices, decisions, guard fingerprints."""

from django.conf import settings
from django.db import models

__all__ = [
    "ApprovalVote",
    "DecisionKind",
    "ItemChoice",
    "ItemDecision",
    "ReviewDecision",
    "SuppressionFingerprint",
]


class ApprovalVote(models.Model):
    """One officer's approval. A high-risk request needs two from different officers.

    A vote counts while `withdrawn_at` is empty; asking the requester for more information or editing
    the items withdraws the votes, because the second officer must approve what the first one saw.
    """

    request = models.ForeignKey("requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="votes")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request_id", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "officer"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="approvalvote_one_live_vote_per_officer",
            )
        ]

    def __str__(self) -> str:
        return f"Approval of request {self.request_id} by user {self.officer_id}"


class ItemChoice(models.TextChoices):
    INCLUDE = "include", "Forget and train on it (coreset)"
    EXCLUDE = "exclude", "Forget, but leave it out of training"
    DROP = "drop", "Do not forget: not the requester's data"


class ItemDecision(models.Model):
    """An officer's choice for one item, overriding the coreset that screening proposed."""

    item = models.OneToOneField("requests_app.ForgetItem", on_delete=models.CASCADE, related_name="decision")
    choice = models.CharField(max_length=16, choices=ItemChoice.choices)
    # The officer's note stays with the case (the audit row holds only its hash).
    note = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.choice} item {self.item_id}"

    @property
    def in_coreset(self) -> bool:
        return self.choice == ItemChoice.INCLUDE

    @property
    def forgotten(self) -> bool:
        return self.choice != ItemChoice.DROP


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    NEEDS_INFO = "needs_info", "Asked for more information"
    EXTEND = "extend", "Deadline extended"


class ReviewDecision(models.Model):
    """The record of a decision, with the reason the requester was given (the audit row holds its hash)."""

    request = models.ForeignKey(
        "requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="review_decisions"
    )
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Which Art. 17(3) exception a rejection relies on ("" when none or not a rejection).
    exception = models.CharField(max_length=32, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    reason_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} request {self.request_id}"


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
