"""What screening judges against, loaded once per worker process: the model, the holdout texts that
calibrate membership, the utility-critical texts, the training-corpus index and the embedder.

Each comes from a configured file (PALIMPSEST_SCREENING_*), else from the demo world's files under
PALIMPSEST_DEMO_ROOT/world; either way they are read here as plain JSONL or text files.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from palimpsest.hashing import canonical_json
from palimpsest.jsonl import read_jsonl
from palimpsest.ml.loading import load_causal_lm
from palimpsest.personal import personal_hash
from requests_app.screening.checks import CorpusIndex, ScreeningConfig, ScreeningContext, build_context
from requests_app.screening.checks.utility import load_embedder

RETAIN_BATCH = 16
_CACHE: dict[str, object] = {}
_CACHE_LOCK = threading.Lock()


def _world_dir() -> Path:
    return Path(settings.PALIMPSEST_DEMO_ROOT) / "world"


def _record_text(record: dict) -> str:
    return record.get("text") or f"{record.get('prompt', '')}{record.get('completion', '')}"


def load_texts(path: Path) -> list[str]:
    """A JSONL file (field `text`, or `prompt` + `completion`) or a plain file, one text a line."""
    if path.suffix == ".jsonl":
        return [t for t in (_record_text(r) for r in read_jsonl(path)) if t.strip()]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def nonmember_texts() -> list[str]:
    """Configured holdout sample, else the demo world's holdout people (never trained on)."""
    configured = settings.PALIMPSEST_SCREENING_NONMEMBER_TEXTS
    if configured:
        return load_texts(Path(configured))
    world = _world_dir()
    if not (world / "bios.jsonl").is_file():
        return []
    bios = [r["text"] for r in read_jsonl(world / "bios.jsonl") if r.get("group") == "holdout"]
    qa = [_record_text(r) for r in read_jsonl(world / "qa.jsonl") if r.get("group") == "holdout"]
    return bios + qa


def utility_texts() -> list[str]:
    """Configured utility-critical set, else the demo world's general facts and their evaluation questions."""
    configured = settings.PALIMPSEST_SCREENING_UTILITY_TEXTS
    if configured:
        return load_texts(Path(configured))
    world = _world_dir()
    if not (world / "general.jsonl").is_file():
        return []
    return [
        _record_text(r) for r in read_jsonl(world / "general.jsonl") + read_jsonl(world / "general_qa.jsonl")
    ]


def corpus_records() -> list[tuple[str, str]]:
    """(record_id, text) of the training corpus, for concept expansion; empty when none is configured."""
    path = Path(settings.PALIMPSEST_SCREENING_CORPUS or _world_dir() / "train.jsonl")
    if not path.is_file():
        return []
    return [(str(r.get("record_id", i)), _record_text(r)) for i, r in enumerate(read_jsonl(path))]


def _cache_key() -> str:
    keys = [
        "PALIMPSEST_BASE_MODEL",
        "PALIMPSEST_DEMO_ROOT",
        "PALIMPSEST_SCREENING_NONMEMBER_TEXTS",
        "PALIMPSEST_SCREENING_UTILITY_TEXTS",
        "PALIMPSEST_SCREENING_CORPUS",
        "PALIMPSEST_SCREENING_EMBEDDINGS",
        "PALIMPSEST_SCREENING_EMBED_PRECISION",
    ]
    return canonical_json({k: str(getattr(settings, k)) for k in keys})


def screening_context() -> tuple[ScreeningContext, CorpusIndex | None]:
    """Built on first use in this process and reused until the settings change."""
    key = _cache_key()
    with _CACHE_LOCK:
        if _CACHE.get("key") != key:
            model_dir = Path(settings.PALIMPSEST_BASE_MODEL)
            lm = load_causal_lm(model_dir) if (model_dir / "config.json").is_file() else None
            utility = utility_texts()
            wanted = utility and settings.PALIMPSEST_SCREENING_EMBEDDINGS
            precision = settings.PALIMPSEST_SCREENING_EMBED_PRECISION
            embedder = load_embedder(precision) if wanted else None
            context = build_context(
                lm,
                nonmember_texts=nonmember_texts() if lm is not None else [],
                utility_texts=utility,
                retain_texts=utility[:: max(1, len(utility) // RETAIN_BATCH)][:RETAIN_BATCH],
                embedder=embedder,
                config=ScreeningConfig(),
                model_label=model_dir.name if lm is not None else "",
                text_digest=personal_hash,
            )
            records = corpus_records()
            _CACHE.update(key=key, context=context, corpus=CorpusIndex(records) if records else None)
        return _CACHE["context"], _CACHE["corpus"]  # type: ignore[return-value]
