"""Shapes of the public API: what a client sends, what it gets back (also the OpenAPI schema)."""

from rest_framework import serializers

from requests_app.intake import emails
from requests_app.intake import selectors as intake_selectors
from requests_app.intake.parsing import JURISDICTIONS
from requests_app.models import ForgetRequest, LegalGround, RequestKind, Status


class ExampleSerializer(serializers.Serializer):
    question = serializers.CharField(allow_blank=True, trim_whitespace=False)
    answer = serializers.CharField(allow_blank=True, required=False, default="", trim_whitespace=False)


class ForgetRequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices, help_text="corpus: texts; concept: a topic.")
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    email = serializers.EmailField(max_length=254, help_text="Receives the six-digit confirmation code.")
    jurisdiction = serializers.ChoiceField(choices=JURISDICTIONS, help_text="Country code, or OTHER.")
    legal_ground = serializers.ChoiceField(choices=LegalGround.choices, help_text="GDPR Art. 17(1) letter.")
    declaration = serializers.BooleanField(help_text="Must be true: the data is the requester's own.")
    text = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False,
        help_text="corpus: text to forget; one item per paragraph (blank-line separated).",
    )  # fmt: skip
    concept_description = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="concept: what to forget, in words."
    )
    examples = ExampleSerializer(
        many=True,
        required=False,
        default=list,
        help_text="concept: example questions and the model's answers.",
    )


class ForgetRequestCreateMultipartSerializer(ForgetRequestCreateSerializer):
    examples = None  # nested lists do not travel in multipart; send them as JSON
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        default=list,
        help_text=".txt, .md (per paragraph), .csv (per row), .jsonl (per line, field text).",
    )


class VerifySerializer(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, default="", help_text="Six digits.")
    link_token = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="The k parameter of the e-mailed link."
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The t parameter of the status-page link.")


class ForgetRequestCreatedSerializer(serializers.Serializer):
    """No status link yet: it is handed out only to whoever confirms with the e-mailed code."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Status.choices)


class ForgetRequestVerifiedSerializer(ForgetRequestCreatedSerializer):
    status_url = serializers.URLField(
        help_text="The private status page; it carries a token that expires (PALIMPSEST_STATUS_LINK_DAYS)."
    )


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    text = serializers.CharField()


class ForgetRequestStatusSerializer(ForgetRequestVerifiedSerializer):
    status_label = serializers.CharField()
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    received_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    original_due_at = serializers.DateTimeField(allow_null=True)
    extension_reason = serializers.CharField(allow_blank=True)
    items = serializers.IntegerField(help_text="Number of items (paragraphs, rows, records).")
    next_step = serializers.CharField()
    can_withdraw = serializers.BooleanField()
    question = serializers.CharField(allow_blank=True, help_text="The officer's open question, if any.")
    timeline = TimelineEntrySerializer(many=True)


def created_payload(req: ForgetRequest) -> dict:
    return {"id": req.public_id, "status": req.status}


def verified_payload(req: ForgetRequest) -> dict:
    return {**created_payload(req), "status_url": emails.status_url(req)}


def status_payload(req: ForgetRequest) -> dict:
    return {
        **verified_payload(req),
        "status_label": req.get_status_display(),
        "kind": req.kind,
        "received_at": req.received_at,
        "verified_at": req.verified_at,
        "due_at": req.due_at,
        "original_due_at": req.original_due_at,
        "extension_reason": req.extension_reason,
        "items": req.items.count(),
        "next_step": intake_selectors.NEXT_STEP.get(req.status, ""),
        "can_withdraw": intake_selectors.can_withdraw(req),
        "question": intake_selectors.open_question(req),
        "timeline": [{"at": e.at, "text": e.text} for e in intake_selectors.status_timeline(req)],
    }
