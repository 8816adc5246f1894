"""The production pointer file that the generation side reads: PALIMPSEST_STORAGE/production.json,
replaced atomically (a reader sees the old or the new pointer, never half of one)."""

import json
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from unlearn_jobs.registry.models import ModelVersion

POINTER_NAME = "production.json"


def pointer_path() -> Path:
    return Path(settings.PALIMPSEST_STORAGE) / POINTER_NAME


def pointer_write(*, version: ModelVersion) -> Path:
    target = pointer_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "version": version.number,
        "artifact_path": version.artifact_path,
        "artifact_sha256": version.artifact_sha256,
        "written_at": timezone.now().isoformat(),
    }
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".production.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def pointer_read() -> dict | None:
    try:
        return json.loads(pointer_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
