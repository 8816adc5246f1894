"""JSON Lines files, one record a line: the demo world writes them, screening and benchmarks read them.
Standard library only, so the Django-free packages may use it."""

import json
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
