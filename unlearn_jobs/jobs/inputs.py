"""What a job trains on, built from its rows: the trained items (the coreset) with their texts, and the
retain set the engine's `mixed_retain` picks from the training corpus.

An item whose text was erased (its request closed) is recovered from the training corpus by its
sha256, which is how a rebase can train again on data erased earlier. Texts stay in memory only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from palimpsest.jsonl import read_jsonl
from palimpsest.personal import personal_hash
from requests_app.models import Status
from requests_app.review.models import ApprovedItem
from unlearn_jobs.engine import TextItem, forget_item, mixed_retain
from unlearn_jobs.jobs.models import JobItem, UnlearnJob

# Whose texts never go into a retain set: everyone approved for erasure, done or under way.
_ERASING = (Status.APPROVED, Status.UNLEARNING, Status.VERIFYING, Status.AWAITING_RELEASE, Status.COMPLETED)
_CORPUS: dict[str, object] = {}
_CORPUS_LOCK = threading.Lock()


class MissingTextsError(Exception):
    """Trained items whose text is gone from the item and the corpus: the job cannot be built."""


@dataclass(frozen=True)
class Corpus:
    texts: tuple[str, ...]
    by_sha256: dict[str, str]


def text_key(text: str) -> str:
    """The key of a corpus text: the same keyed hash an item is stored under (palimpsest.personal),
    so an erased item's text is found again, and a job's frozen retain set is named by it."""
    return personal_hash(text)


def _record_text(record: dict) -> str:
    return record.get("text") or f"{record.get('prompt', '')}{record.get('completion', '')}"


def load_corpus(path: str) -> Corpus:
    """The training corpus (JSONL with `text` or `prompt` + `completion`, or one text a line), cached
    per process until the file changes. A missing file is an empty corpus."""
    file = Path(path)
    if not file.is_file():
        return Corpus((), {})
    # Keyed by the items' hash, which the pepper keys: a change of pepper builds it again.
    key = f"{file}:{file.stat().st_mtime_ns}:{personal_hash('')}"
    with _CORPUS_LOCK:
        if _CORPUS.get("key") != key:
            if file.suffix == ".jsonl":
                texts = [_record_text(r) for r in read_jsonl(file)]
            else:
                texts = file.read_text(encoding="utf-8").splitlines()
            texts = tuple(t for t in texts if t.strip())
            _CORPUS.update(key=key, corpus=Corpus(texts, {text_key(t): t for t in texts}))
        return _CORPUS["corpus"]  # type: ignore[return-value]


def _text_of(approved: ApprovedItem, corpus: Corpus) -> str | None:
    item = approved.item
    if item.text_deleted_at is None and item.text.strip():
        return item.text
    return corpus.by_sha256.get(approved.sha256)


def missing_texts(approved_items: list[ApprovedItem], corpus: Corpus) -> int:
    return sum(1 for approved in approved_items if _text_of(approved, corpus) is None)


def trained_items(job: UnlearnJob, corpus: Corpus) -> list[TextItem]:
    """The job's coreset as engine items, in a fixed order (every attempt builds the same spec)."""
    rows = (
        JobItem.objects.filter(job=job, trained=True)
        .select_related("approved_item__item", "approved_item__request")
        .order_by("approved_item_id")
    )
    items, missing = [], 0
    for row in rows:
        approved = row.approved_item
        text = _text_of(approved, corpus)
        if text is None:
            missing += 1
            continue
        items.append(
            forget_item(
                text, protected=(approved.request.requester_name,), item_id=f"item-{approved.item_id}"
            )
        )
    if missing:
        raise MissingTextsError(
            f"{missing} trained item(s) have no text left (erased, and not found in the training corpus)"
        )
    return items


def _erased_names_and_hashes() -> tuple[list[str], set[str]]:
    approved = ApprovedItem.objects.filter(request__status__in=_ERASING)
    names = approved.values_list("request__requester_name", flat=True).distinct()
    return sorted({n.lower() for n in names if n.strip()}), set(approved.values_list("sha256", flat=True))


def retain_pool(corpus: Corpus) -> list[TextItem]:
    """Corpus texts that are nobody's erased data: no approved item's text, no approved requester's name."""
    names, hashes = _erased_names_and_hashes()
    pool = []
    for text in corpus.texts:
        lowered = text.lower()
        if text_key(text) in hashes or any(name in lowered for name in names):
            continue
        pool.append(TextItem(text=text))
    return pool


def retain_items(job: UnlearnJob, forget: list[TextItem], corpus: Corpus) -> tuple[list[TextItem], bool]:
    """The retain set and whether it is the one recorded by an earlier attempt (so that a checkpoint of
    that attempt can be resumed). It is chosen afresh when none was recorded or the corpus lost a text."""
    by_sha = corpus.by_sha256
    if job.retain_hashes and all(h in by_sha for h in job.retain_hashes):
        return [TextItem(text=by_sha[h]) for h in job.retain_hashes], True
    settings = job.engine_settings
    n = min(settings["retain_max"], settings["retain_per_item"] * len(forget))
    # jobs made before the random share was a setting have none
    share = settings.get("retain_random_share", 0.0)
    return mixed_retain(forget, retain_pool(corpus), n, random_share=share, seed=settings["seed"]), False
