"""A job's spec and result as JSON files, so a launcher can hand a job to the processes of a group and
read back what rank 0 reports. Item texts do travel in the spec file: it lives in the job's work directory
and is deleted with it (launch.py)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from unlearn_jobs.engine.items import TextItem
from unlearn_jobs.engine.spec import UnlearnResult, UnlearnSpec

PATH_FIELDS = ("model_dir", "output_dir", "checkpoint_dir")
NESTED_FIELDS = ("method_config", "lora", "stop", "parallel")


def spec_to_dict(spec: UnlearnSpec) -> dict[str, Any]:
    """Every field but the progress callable (a process group reports through files instead)."""
    body: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name == "progress":
            continue
        if f.name in ("forget_items", "retain_items"):
            value = [dataclasses.asdict(item) for item in value]
        elif f.name in NESTED_FIELDS:
            value = dataclasses.asdict(value)
        elif f.name in PATH_FIELDS and value is not None:
            value = str(value)
        body[f.name] = value
    return body


def spec_from_dict(body: dict[str, Any]) -> UnlearnSpec:
    body = dict(body)
    for side in ("forget_items", "retain_items"):
        body[side] = [TextItem(**item) for item in body.get(side, ())]
    if body.get("lora", {}).get("target_modules") is not None:
        body["lora"]["target_modules"] = tuple(body["lora"]["target_modules"])
    return UnlearnSpec(**body)  # nested dicts become their dataclasses in __post_init__


def result_to_dict(result: UnlearnResult) -> dict[str, Any]:
    body = dataclasses.asdict(result)
    body["artifact_dir"] = str(result.artifact_dir) if result.artifact_dir is not None else None
    return body


def result_from_dict(body: dict[str, Any]) -> UnlearnResult:
    body = dict(body)
    if body.get("artifact_dir") is not None:
        body["artifact_dir"] = Path(body["artifact_dir"])
    return UnlearnResult(**body)


def write_json(path: Path, body: Any) -> None:
    """Written beside and renamed: a reader sees the whole file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(body, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
