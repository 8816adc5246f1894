"""Search for erased data that survived: every text field of the database and every text file under
the storage root, compared with the completed requests' items by sha256 (of a whole value, a line, a
JSON string) and, where a text is still present, by a copy held in memory for the scan only. A finding
names where and which request, never the text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models

from palimpsest.personal import personal_hash
from requests_app.models import ForgetItem, Status
from requests_app.review.models import ApprovedItem

TEXT_SUFFIXES = {".json", ".jsonl", ".txt", ".md", ".csv", ".tsv", ".yaml", ".yml", ".log", ".html"}
MAX_FILE_BYTES = 50_000_000
PROJECT_APPS = ("requests_app", "unlearn_jobs", "verification")
MAX_ITEM_LINES = 8


@dataclass(frozen=True)
class Finding:
    where: str
    request_id: int


def _erased_hashes() -> dict[str, int]:
    hashes = dict(
        ApprovedItem.objects.filter(request__status=Status.COMPLETED).values_list("sha256", "request_id")
    )
    hashes.update(
        ForgetItem.objects.filter(request__status=Status.COMPLETED).values_list("sha256", "request_id")
    )
    return hashes


def _texts_still_present() -> dict[str, int]:
    return dict(
        ForgetItem.objects.filter(request__status=Status.COMPLETED)
        .exclude(text="")
        .values_list("text", "request_id")
    )


def _pieces(value: str) -> Iterator[str]:
    """The value, its lines and runs of up to MAX_ITEM_LINES lines (a multi-line item copied into a
    plain file), and the strings inside it when it is JSON."""
    yield value
    lines = value.splitlines()
    for width in range(1, MAX_ITEM_LINES + 1):
        for start in range(len(lines) - width + 1):
            yield "\n".join(lines[start : start + width])
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return
    stack = [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class Matcher:
    def __init__(self, hashes: dict[str, int], texts: dict[str, int]):
        self.hashes, self.texts = hashes, texts

    def match(self, value: str) -> int | None:
        for piece in _pieces(value):
            found = self.hashes.get(personal_hash(piece)) or self.hashes.get(personal_hash(piece.strip()))
            if found:
                return found
        for text, request_id in self.texts.items():
            if text in value:
                return request_id
        return None


def _text_fields(model) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not f.name.endswith("sha256")
    ]


def scan_database(matcher: Matcher) -> Iterator[Finding]:
    for config in apps.get_app_configs():
        if config.name not in PROJECT_APPS:
            continue
        for model in config.get_models():
            fields = _text_fields(model)
            if not fields:
                continue
            for row in model.objects.values_list("pk", *fields).iterator(chunk_size=500):
                pk, values = row[0], row[1:]
                for name, value in zip(fields, values, strict=True):
                    if value in (None, "", {}, []):
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    request_id = matcher.match(text)
                    if request_id:
                        yield Finding(f"database {model._meta.label}#{pk}.{name}", request_id)


def scan_storage(matcher: Matcher, root: Path | None = None) -> Iterator[Finding]:
    root = Path(root or settings.PALIMPSEST_STORAGE)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if (
            not path.is_file()
            or path.suffix.lower() not in TEXT_SUFFIXES
            or path.stat().st_size > MAX_FILE_BYTES
        ):
            continue
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        request_id = matcher.match(content)
        if request_id:
            yield Finding(f"file {path.relative_to(root)}", request_id)


def scan_erased() -> list[Finding]:
    """Every place where a completed request's submitted text is still found."""
    matcher = Matcher(_erased_hashes(), _texts_still_present())
    try:
        return [*scan_database(matcher), *scan_storage(matcher)]
    finally:
        matcher.texts.clear()  # the in-memory copy lives for the scan only
