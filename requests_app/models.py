"""The lifecycle core every domain uses: forget requests, their items and messages, the hash-chained audit log."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class RequestKind(models.TextChoices):
    CORPUS = "corpus", "Text I provide"
    CONCEPT = "concept", "A topic about me"


class LegalGround(models.TextChoices):
    # GDPR Art. 17(1)(a)-(f), in plain words.
    NO_LONGER_NECESSARY = "a", "(a) The data is no longer needed for the purpose it was collected for"
    CONSENT_WITHDRAWN = "b", "(b) I withdraw the consent the processing relied on"
    OBJECTION = "c", "(c) I object to the processing and there is no overriding legitimate reason"
    UNLAWFUL = "d", "(d) The data was processed unlawfully"
    LEGAL_OBLIGATION = "e", "(e) The data must be erased to meet a legal obligation"
    CHILD_DATA = "f", "(f) The data was collected from me as a child for an online service"


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    VERIFIED = "verified", "Identity confirmed"
    SCREENING = "screening", "Being screened"
    IN_REVIEW = "in_review", "In review"
    NEEDS_INFO = "needs_info", "Needs more information"
    APPROVED = "approved", "Approved"
    UNLEARNING = "unlearning", "Unlearning"
    VERIFYING = "verifying", "Verifying"
    AWAITING_RELEASE = "awaiting_release", "Awaiting release"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Withdrawn"


OPEN_STATUSES = frozenset(
    {
        Status.SUBMITTED,
        Status.VERIFIED,
        Status.SCREENING,
        Status.IN_REVIEW,
        Status.NEEDS_INFO,
        Status.APPROVED,
        Status.UNLEARNING,
        Status.VERIFYING,
        Status.AWAITING_RELEASE,
    }
)
FINAL_STATUSES = frozenset({Status.COMPLETED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED})


class Channel(models.TextChoices):
    PORTAL = "portal", "Web form"
    API = "api", "API"


class ForgetRequest(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    requester_name = models.CharField(max_length=200)
    requester_email = models.EmailField(max_length=254)
    jurisdiction = models.CharField(max_length=64, help_text="Country or region whose law applies.")
    legal_ground = models.CharField(max_length=1, choices=LegalGround.choices)
    concept_description = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    # When the requester ticked the declaration that the data is about them and the request is in good faith.
    declared_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SUBMITTED)
    received_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # due_at is the deadline in force (extensions included); original_due_at is verified + one month.
    original_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    extension_days = models.PositiveIntegerField(default=0)
    extension_reason = models.TextField(blank=True, default="")
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Status links carry it: the requester revokes every link issued so far by moving it on.
    status_link_generation = models.PositiveIntegerField(default=0)
    # When the requester's name and address were emptied, PALIMPSEST_CLOSED_RETENTION_DAYS after closing.
    minimised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "received_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="forgetrequest_status_due"),
            models.Index(fields=["due_at"], name="forgetrequest_due"),
            models.Index(fields=["requester_email"], name="forgetrequest_email"),
            # The review queue's order over the open requests only: without it PostgreSQL walks the due-date
            # index through every closed request (years of them) before the first open one. A plain ascending
            # key: PostgreSQL already puts nulls last there (the queue's ORDER BY ... NULLS LAST uses it), and
            # SQLite, the embedded mode's database, refuses NULLS LAST in an index.
            models.Index(
                F("due_at").asc(),
                "received_at",
                "id",
                condition=Q(status__in=[Status.IN_REVIEW, Status.NEEDS_INFO]),
                name="forgetrequest_review_queue",
            ),  # fmt: skip
        ]
        permissions = [
            ("decide_forgetrequest", "Can approve, reject or ask for information on forget requests"),
            ("extend_forgetrequest", "Can extend the deadline of a forget request"),
        ]

    def __str__(self) -> str:
        return f"Forget request {self.public_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ItemSource(models.TextChoices):
    PASTED = "pasted", "Pasted"
    UPLOAD = "upload", "Uploaded file"
    EXPANDED = "expanded", "Proposed from the concept"


class ForgetItem(models.Model):
    request = models.ForeignKey(ForgetRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    # Emptied (text_deleted_at set) once the request is closed: only the hash is kept.
    text = models.TextField()
    sha256 = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=16, choices=ItemSource.choices)
    source_name = models.CharField(max_length=255, blank=True, default="", help_text="Uploaded file name.")
    char_count = models.PositiveIntegerField(default=0)
    # Where the item sits in its source (pasted text or file), in characters after normalisation; for
    # a csv or jsonl file, `source_line` is its 1-based line number.
    source_start = models.PositiveIntegerField(null=True, blank=True)
    source_end = models.PositiveIntegerField(null=True, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)
    text_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="forgetitem_unique_position"),
        ]

    def __str__(self) -> str:
        return f"Item {self.position} of request {self.request_id}"


class ConceptExample(models.Model):
    """An example question about the concept and the answer the model gives, as the requester saw it."""

    request = models.ForeignKey(ForgetRequest, on_delete=models.CASCADE, related_name="concept_examples")
    position = models.PositiveIntegerField()
    question = models.TextField()
    answer = models.TextField(blank=True, default="")
    # sha256 of question + "\n" + answer, kept after the texts are emptied at closing.
    sha256 = models.CharField(max_length=64)
    text_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="conceptexample_unique_position"),
        ]

    def __str__(self) -> str:
        return f"Example {self.position} of request {self.request_id}"


class MessageAuthor(models.TextChoices):
    OFFICER = "officer", "Compliance officer"
    SUBJECT = "subject", "Requester"


class RequestMessage(models.Model):
    """A question from an officer (needs information) or the requester's reply to it."""

    request = models.ForeignKey(ForgetRequest, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=MessageAuthor.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    sha256 = models.CharField(max_length=64)
    body_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author} message on request {self.request_id}"


class ActorKind(models.TextChoices):
    USER = "user", "Staff user"
    SUBJECT = "subject", "Data subject"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """Append-only, hash-chained: hash = HMAC-SHA256(PALIMPSEST_AUDIT_KEY, prev_hash + canonical JSON of the
    event); PostgreSQL refuses UPDATE and DELETE (a trigger, migration 0012).

    Holds ids, hashes and figures only — never personal data.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="auditevent_object")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The one row that serialises appends: locked first, so two writers never fork the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


# Each domain keeps its own records in its package; importing them here registers them with this app
# (their foreign keys name the core models by label, so these modules never import this one).
from requests_app.guard.models import SuppressionFingerprint  # noqa: E402
from requests_app.intake.models import IdentityCheck  # noqa: E402
from requests_app.review.models import (  # noqa: E402
    ApprovalVote,
    ApprovedItem,
    DecisionKind,
    ItemChoice,
    ItemDecision,
    ReviewDecision,
)
from requests_app.screening.models import (  # noqa: E402
    ItemScreening,
    NearDuplicateBand,
    NearDuplicateSignature,
    ProposalStatus,
    RiskLevel,
    ScreeningReport,
    ScreeningVerdict,
)
from requests_app.staff.models import ApiToken, StaffTotp  # noqa: E402

__all__ = [
    "ActorKind",
    "ApiToken",
    "ApprovalVote",
    "ApprovedItem",
    "AuditChainHead",
    "AuditEvent",
    "Channel",
    "ConceptExample",
    "DecisionKind",
    "ForgetItem",
    "ForgetRequest",
    "IdentityCheck",
    "ItemChoice",
    "ItemDecision",
    "ItemScreening",
    "ItemSource",
    "LegalGround",
    "MessageAuthor",
    "NearDuplicateBand",
    "NearDuplicateSignature",
    "ProposalStatus",
    "RequestKind",
    "RequestMessage",
    "ReviewDecision",
    "RiskLevel",
    "ScreeningReport",
    "ScreeningVerdict",
    "StaffTotp",
    "Status",
    "SuppressionFingerprint",
]
