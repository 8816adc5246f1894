"""What compliance officers decide: approval votes (four-eyes), item choices, decisions, and the forget set
an approval stores for the unlearning side."""

from django.conf import settings
from django.db import models


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


class ApprovedItem(models.Model):
    """One item of an approved request's forget set, written in the approval transaction.

    The unlearning side reads this table, not the review selectors: every row is verified after
    unlearning, and the rows `in_coreset` are what unlearning trains on. Holds ids and the item's hash.
    """

    request = models.ForeignKey(
        "requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="approved_items"
    )
    item = models.OneToOneField("requests_app.ForgetItem", on_delete=models.CASCADE, related_name="approval")
    sha256 = models.CharField(max_length=64)
    in_coreset = models.BooleanField()
    approved_at = models.DateTimeField()
    # The label of the first published model version that no longer holds the item ("" until then).
    erased_in_version = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["request_id", "item_id"]
        indexes = [models.Index(fields=["request", "in_coreset"], name="approveditem_request_coreset")]

    def __str__(self) -> str:
        return f"Approved item {self.item_id} of request {self.request_id}"
