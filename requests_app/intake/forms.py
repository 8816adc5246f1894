"""Portal forms: parse the input; the rules live in services and intake, whose errors land on the fields."""

from django import forms

from requests_app.intake.parsing import ALLOWED_EXTENSIONS, JURISDICTIONS
from requests_app.models import LegalGround, RequestKind

EXAMPLE_SLOTS = 3


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.Field):
    """Any number of files; their checks (type, size, encoding) are the intake's, which name the file."""

    widget = MultipleFileInput

    def to_python(self, data):
        if not data:
            return []
        return [upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload]


class PortalForm(forms.Form):
    """Errors from a service (ApplicationError.field) go to the field they name, else to the top."""

    error_field_aliases: dict[str, str] = {}

    def add_application_error(self, error) -> None:
        field = self.error_field_aliases.get(error.field, error.field)
        self.errors  # noqa: B018 — validates a bound form; gives an unbound one an empty error list
        if not hasattr(self, "cleaned_data"):
            self.cleaned_data = {}
        self.add_error(field if field in self.fields else None, error.message)


class ForgetRequestForm(PortalForm):
    error_field_aliases = {"examples": "question_1", "body": None}

    name = forms.CharField(
        label="Your full name",
        max_length=200,
        widget=forms.TextInput({"autocomplete": "name"}),
        error_messages={"required": "Enter your full name."},
    )
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        help_text="We send a confirmation code here, and tell you what happens to your request.",
        widget=forms.EmailInput({"autocomplete": "email"}),
        error_messages={"required": "Enter your e-mail address."},
    )
    jurisdiction = forms.ChoiceField(
        label="Where do you live?",
        choices=[("", "Choose a country"), *JURISDICTIONS],
        help_text="This tells us which data-protection authority you can turn to.",
        error_messages={"required": "Choose where you live."},
    )
    legal_ground = forms.ChoiceField(
        label="Why should it be erased?",
        choices=LegalGround.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why it should be erased."},
        help_text="The grounds of Article 17(1) GDPR. Pick the one that fits best; we check it with you if unsure.",
    )
    kind = forms.ChoiceField(
        label="What should the model forget?",
        choices=[
            (RequestKind.CORPUS, "Text I provide: I paste it or upload files"),
            (RequestKind.CONCEPT, "A topic about me, such as “my home address” or “everything about me”"),
        ],
        widget=forms.RadioSelect,
        initial=RequestKind.CORPUS,
    )
    text = forms.CharField(
        label="Paste the text",
        required=False,
        widget=forms.Textarea({"rows": 8}),
        help_text="Each paragraph (separated by a blank line) becomes one item we check and remove.",
    )
    files = MultipleFileField(
        label="Or upload files",
        required=False,
        widget=MultipleFileInput({"accept": ",".join(ALLOWED_EXTENSIONS)}),
        help_text=(
            "Plain text files: .txt and .md (one item per paragraph), .csv (one per row), "
            '.jsonl (one per line, with a "text" field). Up to 5 files of 1 MB each.'
        ),
    )
    concept_description = forms.CharField(
        label="Describe what the model should forget",
        required=False,
        widget=forms.Textarea({"rows": 3}),
        help_text="For example: “my home address”, or “everything about me, Jane Roe, born 1980 in Lyon”.",
    )
    declaration = forms.BooleanField(
        label=(
            "I declare that this request is about my own personal data (or that I am entitled to act for "
            "the person it is about), and that what I send is true to the best of my knowledge."
        ),
        error_messages={"required": "Tick the declaration to send your request."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for slot in range(1, EXAMPLE_SLOTS + 1):
            self.fields[f"question_{slot}"] = forms.CharField(
                label=f"Example question {slot}", required=False, max_length=4000
            )
            self.fields[f"answer_{slot}"] = forms.CharField(
                label=f"What the model answered to question {slot}",
                required=False,
                max_length=4000,
                widget=forms.Textarea({"rows": 2}),
            )

    def example_rows(self):
        return [(self[f"question_{slot}"], self[f"answer_{slot}"]) for slot in range(1, EXAMPLE_SLOTS + 1)]

    def examples(self) -> list[tuple[str, str]]:
        data = self.cleaned_data
        return [(data[f"question_{s}"], data[f"answer_{s}"]) for s in range(1, EXAMPLE_SLOTS + 1)]


class ConfirmForm(PortalForm):
    code = forms.CharField(
        label="Confirmation code",
        max_length=12,
        help_text="The six digits in the e-mail we sent you. It is valid for 24 hours.",
        widget=forms.TextInput({"inputmode": "numeric", "autocomplete": "one-time-code", "size": 8}),
    )


class ReplyForm(PortalForm):
    body = forms.CharField(
        label="Your answer",
        widget=forms.Textarea({"rows": 5}),
        error_messages={"required": "Write your answer."},
        help_text="We add your answer to your request and check it again.",
    )
