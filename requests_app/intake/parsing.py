"""Intake checks: limits, decoding, Unicode normalisation and splitting a corpus into bounded items.

Every refusal is an ApplicationError naming the field (and the file), so forms and the API show it.
"""

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

from palimpsest.errors import ApplicationError
from palimpsest.ml.text import clean_text
from palimpsest.personal import personal_hash

ALLOWED_EXTENSIONS = (".txt", ".md", ".csv", ".jsonl")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Limits:
    max_items: int
    max_item_chars: int
    max_request_chars: int
    max_file_bytes: int
    max_files: int
    max_examples: int
    max_example_chars: int
    max_concept_chars: int

    @property
    def max_body_bytes(self) -> int:
        # Every file at its limit, the pasted text at the request limit (4 bytes a character in UTF-8),
        # and room for the other fields and the multipart framing.
        return self.max_files * self.max_file_bytes + 4 * self.max_request_chars + 256 * 1024


def limits() -> Limits:
    """Read per call so tests (and operators) can change them through settings."""
    return Limits(
        max_items=settings.PALIMPSEST_MAX_ITEMS,
        max_item_chars=settings.PALIMPSEST_MAX_ITEM_CHARS,
        max_request_chars=settings.PALIMPSEST_MAX_REQUEST_CHARS,
        max_file_bytes=settings.PALIMPSEST_MAX_UPLOAD_BYTES,
        max_files=settings.PALIMPSEST_MAX_UPLOAD_FILES,
        max_examples=settings.PALIMPSEST_MAX_CONCEPT_EXAMPLES,
        max_example_chars=settings.PALIMPSEST_MAX_EXAMPLE_CHARS,
        max_concept_chars=settings.PALIMPSEST_MAX_CONCEPT_CHARS,
    )


def declared_body_too_large(meta) -> bool:
    """From the request headers alone: refuse an oversized body before Django reads (and spools) it."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > limits().max_body_bytes


@dataclass(frozen=True)
class IntakeItem:
    text: str
    sha256: str
    source: str  # ItemSource value
    source_name: str
    start: int
    end: int
    line: int | None = None


@dataclass(frozen=True)
class IntakeExample:
    question: str
    answer: str
    sha256: str


def clean_short_text(value: str, *, field: str, label: str, max_chars: int, required: bool = True) -> str:
    value = clean_text(value or "")
    if required and not value:
        raise ApplicationError(f"Please fill in {label}.", field=field)
    if len(value) > max_chars:
        raise ApplicationError(
            f"{label[0].upper()}{label[1:]} is {len(value):,} characters long; the limit is {max_chars:,}.",
            field=field,
        )
    return value


# Characters that reorder how the text around them is shown: in a name they make an officer read another
# name than the one stored (a right-to-left name needs none of them; the marks U+200E/U+200F stay allowed).
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# RFC 5321 4.5.3.1.1: mail servers need not accept a longer part before the @.
MAX_EMAIL_LOCAL_PART = 64


def clean_name(value: str) -> str:
    name = clean_short_text(value, field="name", label="your name", max_chars=200)
    found = sorted(DIRECTION_CONTROLS & set(name))
    if found:
        raise ApplicationError(
            f"Your name holds a character that changes the text direction (U+{ord(found[0]):04X}); "
            "please type it without one.",
            field="name",
        )
    return name


def check_email_local_part(email: str) -> None:
    local = email.rpartition("@")[0]
    if len(local) > MAX_EMAIL_LOCAL_PART:
        raise ApplicationError(
            f"The part of your e-mail address before the @ is {len(local):,} characters long; "
            f"mail servers take at most {MAX_EMAIL_LOCAL_PART}.",
            field="email",
        )


def _chunks(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut a long paragraph at sentence ends (else at spaces, else hard) into pieces of bounded size."""
    spans, start = [], 0
    while len(text) - start > max_chars:
        window = text[start : start + max_chars + 1]
        cut = max((m.start() for m in _SENTENCE_END.finditer(window) if m.start() > 0), default=-1)
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = max_chars
        spans.append((start, start + cut))
        start += cut
        while start < len(text) and text[start].isspace():
            start += 1
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def split_paragraphs(text: str, *, source: str, source_name: str, max_chars: int) -> list[IntakeItem]:
    items, start = [], 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        paragraph = text[start:end]
        lead = len(paragraph) - len(paragraph.lstrip())
        paragraph = paragraph.strip()
        offset = start + lead
        for a, b in _chunks(paragraph, max_chars) if paragraph else []:
            piece = paragraph[a:b].strip()
            items.append(IntakeItem(piece, personal_hash(piece), source, source_name, offset + a, offset + b))
        start = match.end() if match else len(text)
    return items


def _record_too_long(name: str, line: int, length: int, max_chars: int) -> ApplicationError:
    return ApplicationError(
        f"Line {line} of “{name}” is {length:,} characters long; one record may hold at most {max_chars:,}.",
        field="files",
    )


def split_csv(text: str, *, name: str, max_chars: int) -> list[IntakeItem]:
    """One item per csv row: its non-empty cells joined by ", "."""
    items = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line_no = reader.line_num
            row_text = ", ".join(cell.strip() for cell in row if cell.strip())
            if not row_text:
                continue
            if len(row_text) > max_chars:
                raise _record_too_long(name, line_no, len(row_text), max_chars)
            start = offsets[min(line_no - 1, len(lines) - 1)]
            end = offsets[min(line_no, len(lines))] - 1
            items.append(IntakeItem(row_text, personal_hash(row_text), "upload", name, start, end, line_no))
    except csv.Error as exc:
        raise ApplicationError(
            f"“{name}” is not valid csv near line {reader.line_num}: {exc}.", field="files"
        ) from None
    return items


def split_jsonl(text: str, *, name: str, max_chars: int) -> list[IntakeItem]:
    """One item per json line; each line must be an object with a non-empty string field `text`."""
    items, offset = [], 0
    for line_no, line in enumerate(text.split("\n"), start=1):
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # bad JSON, a huge number, or nesting too deep to parse
            raise ApplicationError(f"Line {line_no} of “{name}” is not valid JSON.", field="files") from None
        value = record.get("text") if isinstance(record, dict) else None
        if not isinstance(value, str) or not clean_text(value):
            raise ApplicationError(
                f'Line {line_no} of “{name}” needs a non-empty "text" field.', field="files"
            )
        value = clean_text(value)
        if len(value) > max_chars:
            raise _record_too_long(name, line_no, len(value), max_chars)
        items.append(
            IntakeItem(value, personal_hash(value), "upload", name, start, start + len(line), line_no)
        )
    return items


# A byte-order mark names its encoding for certain (Windows editors save "Unicode" text as UTF-16 with
# one); UTF-32's little-endian mark starts with UTF-16's, so it is tried first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def decode_upload(name: str, data: bytes) -> str:
    encoding = next((enc for bom, enc in _BYTE_ORDER_MARKS if data.startswith(bom)), "UTF-8")
    if encoding == "UTF-8" and b"\x00" in data:
        raise ApplicationError(f"“{name}” looks like a binary file; please send plain text.", field="files")
    try:
        text = data.decode("utf-8-sig" if encoding == "UTF-8" else encoding.lower())
    except UnicodeDecodeError:
        raise ApplicationError(
            f"“{name}” is not readable {encoding} text; please save it as UTF-8 and try again.", field="files"
        ) from None
    if "\x00" in text:
        raise ApplicationError(f"“{name}” looks like a binary file; please send plain text.", field="files")
    return text


def upload_items(upload, *, lim: Limits) -> list[IntakeItem]:
    """Check one uploaded file (size first, before reading it) and split it by its type."""
    name = PurePath(upload.name or "upload").name[:255]
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ApplicationError(
            f"“{name}” is not a file type we accept; send {', '.join(ALLOWED_EXTENSIONS)} files.",
            field="files",
        )
    if upload.size > lim.max_file_bytes:
        raise ApplicationError(
            f"“{name}” is {upload.size:,} bytes; one file may be at most {lim.max_file_bytes:,} bytes.",
            field="files",
        )
    text = clean_text(decode_upload(name, upload.read(lim.max_file_bytes + 1)))
    if not text:
        raise ApplicationError(f"“{name}” is empty.", field="files")
    if extension == ".csv":
        items = split_csv(text, name=name, max_chars=lim.max_item_chars)
    elif extension == ".jsonl":
        items = split_jsonl(text, name=name, max_chars=lim.max_item_chars)
    else:
        items = split_paragraphs(text, source="upload", source_name=name, max_chars=lim.max_item_chars)
    if not items:
        raise ApplicationError(f"“{name}” holds no text to forget.", field="files")
    return items


def corpus_items(*, pasted_text: str, files, lim: Limits | None = None) -> list[IntakeItem]:
    """All items of a corpus request, in order: the pasted text first, then each file."""
    lim = lim or limits()
    files = list(files or [])
    if len(files) > lim.max_files:
        raise ApplicationError(f"Send at most {lim.max_files} files in one request.", field="files")
    raw = pasted_text or ""
    if len(raw) > lim.max_request_chars:
        raise ApplicationError(
            f"The pasted text is {len(raw):,} characters long; the limit is {lim.max_request_chars:,}.",
            field="text",
        )
    text = clean_text(raw)
    items = split_paragraphs(text, source="pasted", source_name="", max_chars=lim.max_item_chars)
    for upload in files:
        items += upload_items(upload, lim=lim)
    if not items:
        raise ApplicationError(
            "Paste the text you want the model to forget, or upload a file with it.", field="text"
        )
    check_totals(items, lim=lim)
    return items


def check_totals(items: list[IntakeItem], *, lim: Limits) -> None:
    if len(items) > lim.max_items:
        raise ApplicationError(
            f"This request holds {len(items):,} items (paragraphs, rows or records); the limit is "
            f"{lim.max_items:,}. Please split it into several requests.",
            field="text",
        )
    total = sum(len(item.text) for item in items)
    if total > lim.max_request_chars:
        raise ApplicationError(
            f"This request holds {total:,} characters; the limit is {lim.max_request_chars:,}. "
            "Please split it into several requests.",
            field="text",
        )


def concept_examples(pairs, lim: Limits | None = None) -> list[IntakeExample]:
    """Example questions about the concept and the model's answers; an answer needs its question."""
    lim = lim or limits()
    examples = []
    for index, (question, answer) in enumerate(pairs, start=1):
        question, answer = clean_text(question or ""), clean_text(answer or "")
        if not question and not answer:
            continue
        if not question:
            raise ApplicationError(
                f"Example {index}: give the question the answer belongs to.", field="examples"
            )
        for part, value in (("question", question), ("answer", answer)):
            if len(value) > lim.max_example_chars:
                raise ApplicationError(
                    f"Example {index}: the {part} is {len(value):,} characters long; "
                    f"the limit is {lim.max_example_chars:,}.",
                    field="examples",
                )
        examples.append(IntakeExample(question, answer, personal_hash(f"{question}\n{answer}")))
    if len(examples) > lim.max_examples:
        raise ApplicationError(f"Give at most {lim.max_examples} examples.", field="examples")
    return examples


# Where the requester lives decides the supervisory authority; the EU/EEA, then neighbours that apply GDPR-like law.
JURISDICTIONS = [
    ("AT", "Austria"), ("BE", "Belgium"), ("BG", "Bulgaria"), ("HR", "Croatia"), ("CY", "Cyprus"),
    ("CZ", "Czechia"), ("DK", "Denmark"), ("EE", "Estonia"), ("FI", "Finland"), ("FR", "France"),
    ("DE", "Germany"), ("GR", "Greece"), ("HU", "Hungary"), ("IS", "Iceland"), ("IE", "Ireland"),
    ("IT", "Italy"), ("LV", "Latvia"), ("LI", "Liechtenstein"), ("LT", "Lithuania"), ("LU", "Luxembourg"),
    ("MT", "Malta"), ("NL", "Netherlands"), ("NO", "Norway"), ("PL", "Poland"), ("PT", "Portugal"),
    ("RO", "Romania"), ("SK", "Slovakia"), ("SI", "Slovenia"), ("ES", "Spain"), ("SE", "Sweden"),
    ("CH", "Switzerland"), ("GB", "United Kingdom"), ("OTHER", "Somewhere else"),
]  # fmt: skip
JURISDICTION_CODES = frozenset(code for code, _ in JURISDICTIONS)
