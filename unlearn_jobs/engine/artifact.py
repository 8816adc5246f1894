"""The artifact directory: a normal Hugging Face model directory plus `manifest.json` (hashes, settings,
versions; never the text of an item), written under a temporary name and renamed into place."""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from palimpsest.hashing import sha256_file, sha256_hex
from unlearn_jobs.engine.merge import merge_lora
from unlearn_jobs.engine.spec import TextItem

MANIFEST_FORMAT = "palimpsest.unlearn-artifact/1"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "added_tokens.json",
    "chat_template.jinja",
)


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every regular file under root, by relative path (hidden files skipped)."""
    hashes = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in Path(rel).parts):
            hashes[rel] = sha256_file(path)
    return hashes


def tree_sha256(hashes: dict[str, str]) -> str:
    """One hash for a directory: sha256 over its sorted `path sha256` lines."""
    lines = "".join(f"{rel} {digest}\n" for rel, digest in sorted(hashes.items()))
    return sha256_hex(lines)


def item_sha256(item: TextItem) -> str:
    """sha256 of an item's text; prompt items hash `prompt + "\\n" + answer`."""
    content = f"{item.prompt}\n{item.text}" if item.prompt else item.text
    return sha256_hex(content)


def items_digest(items: Sequence[TextItem]) -> dict[str, Any]:
    hashes = [item_sha256(item) for item in items]
    return {
        "count": len(hashes),
        "set_sha256": sha256_hex("".join(sorted(hashes))),
        "items": [{"sha256": h, "item_id": item.item_id} for h, item in zip(hashes, items, strict=True)],
    }


def library_versions() -> dict[str, str]:
    import accelerate
    import peft
    import safetensors
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "accelerate": accelerate.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
    }


def copy_tokenizer_files(model_dir: Path, target: Path, tokenizer) -> None:
    copied = False
    for name in TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, target / name)
            copied = True
    if not copied:
        tokenizer.save_pretrained(target)


def write_artifact(
    *, output_dir: Path, model, tokenizer, mode: str, model_dir: Path, manifest: dict[str, Any]
) -> tuple[Path, dict[str, Any]]:
    """Save the model (and, for LoRA, the adapter then the merged weights, in the parent's dtype) and the
    manifest atomically."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_dir.parent / f".{output_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        if mode == "lora":
            model.save_pretrained(tmp / "adapter")
            model = merge_lora(model, Path(model_dir), tmp / "adapter")
        model.save_pretrained(tmp)
        copy_tokenizer_files(Path(model_dir), tmp, tokenizer)
        files = file_hashes(tmp)
        manifest = {
            "format": MANIFEST_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **manifest,
            "artifact": {
                "layout": "merged+adapter" if mode == "lora" else "full",
                "dtype": str(model.dtype).removeprefix("torch."),
                "files": files,
                "sha256": tree_sha256(files),
            },
            "versions": library_versions(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        if output_dir.exists():  # a redelivered job finishing again: swap, then drop the old one
            trash = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(output_dir, trash)
            os.replace(tmp, output_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output_dir, manifest
