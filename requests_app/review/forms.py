"""Forms of the review pages: parse and validate only; the rules live in requests_app.review."""

from datetime import UTC, datetime, time

from django import forms
from django.utils import timezone

from requests_app.models import ItemChoice, RequestKind, Status
from requests_app.review.policy import REJECTION_EXCEPTIONS
from requests_app.review.selectors import RISK_LABELS, QueueFilters


class QueueFilterForm(forms.Form):
    risk = forms.ChoiceField(required=False, choices=[("", "Any risk"), *RISK_LABELS.items()])
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            (Status.IN_REVIEW, Status.IN_REVIEW.label),
            (Status.NEEDS_INFO, Status.NEEDS_INFO.label),
        ],
    )
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *RequestKind.choices])
    overdue = forms.BooleanField(required=False, label="Overdue only")

    def filters(self) -> QueueFilters:
        if not self.is_valid():
            return QueueFilters()
        data = self.cleaned_data
        return QueueFilters(
            risk=data["risk"], status=data["status"], kind=data["kind"], overdue=data["overdue"]
        )


class BulkDecisionForm(forms.Form):
    request_ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), label="Requests")
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    exception = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *((key, label) for key, (label, _) in REJECTION_EXCEPTIONS.items())],
        label="Ground for refusing (Art. 17(3))",
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)

    def __init__(self, *args, request_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["request_ids"].choices = [(pk, str(pk)) for pk in request_ids]


class RejectForm(forms.Form):
    exception = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Choose a ground…"),
            *((key, label) for key, (label, _) in REJECTION_EXCEPTIONS.items()),
        ],
        label="Ground for refusing erasure (Art. 17(3))",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        label="Reason the requester will read",
        help_text="Sent to the requester by e-mail. Start from the ground's wording and make it specific.",
    )


class NeedsInfoForm(forms.Form):
    question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        label="Question to the requester",
        help_text="Sent by e-mail; the request waits for the answer.",
    )


class ExtendForm(forms.Form):
    new_due_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        label="New deadline",
        help_text="At most two months after the original deadline.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        label="Reason the requester will read",
    )

    def new_due_at(self, current_due_at: datetime | None) -> datetime:
        # Keep the time of day of the current deadline so that "+2 months" lands exactly on the limit.
        at = timezone.localtime(current_due_at).timetz() if current_due_at else time(23, 59, tzinfo=UTC)
        return datetime.combine(self.cleaned_data["new_due_date"], at)


class ItemDecisionForm(forms.Form):
    choice = forms.ChoiceField(choices=ItemChoice.choices, widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(), label="Note")
