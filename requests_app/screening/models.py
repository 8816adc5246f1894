"""Stored screening results (per request and per item) and the persisted near-duplicate index."""

from django.db import models


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ScreeningVerdict(models.TextChoices):
    KEEP = "keep", "Keep"
    EXCLUDE = "exclude", "Exclude"


class ProposalStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted by the requester"
    PROPOSED = "proposed", "Proposed from the concept"
    OPTIONAL = "optional", "Found for the concept, outside what it describes"
    ACCEPTED = "accepted", "Proposal accepted"
    REJECTED = "rejected", "Proposal rejected"


class ScreeningReport(models.Model):
    """One per request (screening twice updates it); holds verdicts, ids and figures, no text."""

    request = models.OneToOneField(
        "requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="screening_report"
    )
    risk = models.CharField(max_length=8, choices=RiskLevel.choices)
    reasons = models.JSONField(default=list)
    recommended_action = models.TextField()
    # What screening proposed, never edited afterwards: review_selectors.forget_set applies the officers'
    # choices (item decisions, proposals accepted or dropped) and is what unlearning takes.
    coreset_item_ids = models.JSONField(default=list)
    # Every kept item: verification runs on all of them, not only on the coreset.
    forget_set_item_ids = models.JSONField(default=list)
    figures = models.JSONField(default=dict)
    notes = models.JSONField(default=list)
    # sha256 over the screened items' (id, sha256): an unchanged request is not screened again.
    items_digest = models.CharField(max_length=64)
    model_label = models.CharField(max_length=255, blank=True, default="")
    config = models.JSONField(default=dict)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Screening of request {self.request_id}: {self.risk} risk"


class ItemScreening(models.Model):
    report = models.ForeignKey(ScreeningReport, on_delete=models.CASCADE, related_name="items")
    item = models.OneToOneField("requests_app.ForgetItem", on_delete=models.CASCADE, related_name="screening")
    verdict = models.CharField(max_length=8, choices=ScreeningVerdict.choices)
    flags = models.JSONField(default=list, help_text="Flag codes, e.g. not_about_requester, padding.")
    reasons = models.JSONField(default=list, help_text="What the officer reads, one line per flag.")
    in_coreset = models.BooleanField(default=False)
    # Expanded items are proposals until the officer accepts them.
    proposal = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.SUBMITTED
    )
    proposal_origin = models.CharField(max_length=16, blank=True, default="", help_text="corpus or model")
    proposal_record_id = models.CharField(max_length=128, blank=True, default="")
    duplicate_of = models.ForeignKey(
        "requests_app.ForgetItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicates_earlier = models.JSONField(default=list, help_text="[{item_id, request_id, jaccard}]")
    # The published model version that already erased this text for an earlier request ("" if none).
    erased_in_version = models.CharField(max_length=64, blank=True, default="")
    quality_passed = models.BooleanField(default=True)
    language = models.CharField(max_length=16, blank=True, default="")
    quality = models.JSONField(default=dict)
    mentions_requester = models.BooleanField(default=False)
    personal = models.JSONField(default=dict)
    membership_label = models.CharField(max_length=48, blank=True, default="")
    membership = models.JSONField(default=dict)
    utility_similarity = models.FloatField(null=True, blank=True)
    common_word_share = models.FloatField(null=True, blank=True)
    grad_cosine = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["report_id", "item__position"]

    def __str__(self) -> str:
        return f"Screening of item {self.item_id}: {self.verdict}"


class NearDuplicateSignature(models.Model):
    """MinHash of one item, kept after the text is deleted, so later requests are checked against it."""

    item = models.OneToOneField("requests_app.ForgetItem", on_delete=models.CASCADE, related_name="minhash")
    request = models.ForeignKey("requests_app.ForgetRequest", on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64, db_index=True)
    signature = models.BinaryField()

    def __str__(self) -> str:
        return f"MinHash of item {self.item_id}"


class NearDuplicateBand(models.Model):
    """One LSH band key of a signature: items sharing a (band, key) are near-duplicate candidates."""

    signature = models.ForeignKey(NearDuplicateSignature, on_delete=models.CASCADE, related_name="bands")
    band = models.PositiveSmallIntegerField()
    key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["band", "key"], name="nearduplicateband_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["signature", "band"], name="nearduplicateband_one_per_band")
        ]

    def __str__(self) -> str:
        return f"band {self.band} of signature {self.signature_id}"
