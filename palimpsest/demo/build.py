"""Build (or reuse) the demo world, its tokenizer and base model, and retrain gold standards; hash-keyed."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from palimpsest.demo.evaluate import memorisation_report
from palimpsest.demo.sizes import size_spec
from palimpsest.demo.tokenizer import train_tokenizer
from palimpsest.demo.training import Recipe, train_model
from palimpsest.demo.world import GeneratedWorld, generate_world, load_world, write_world
from palimpsest.hashing import sha256_file
from palimpsest.ml.loading import load_causal_lm

MANIFEST_SCHEMA = 1
# Source files whose change must invalidate cached worlds and models.
_CODE_FILES = [
    "demo/world.py",
    "demo/vocabulary.py",
    "demo/tokenizer.py",
    "demo/training.py",
    "demo/sizes.py",
    "ml/batching.py",
]


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def code_sha256() -> str:
    package = Path(__file__).resolve().parent.parent
    return sha256_json({name: sha256_file(package / name) for name in _CODE_FILES})


def _hash_tree(root: Path, sub: str) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted((root / sub).rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class DemoWorldPaths:
    """Where a built demo world lives; model_dir also holds the tokenizer, so load_causal_lm(model_dir) works."""

    root: Path
    world_dir: Path
    tokenizer_dir: Path
    model_dir: Path
    manifest_path: Path
    size: str
    people: int
    seed: int
    build_key: str

    @classmethod
    def at(cls, root: Path, *, size: str, people: int, seed: int, build_key: str) -> DemoWorldPaths:
        root = Path(root)
        return cls(
            root,
            root / "world",
            root / "tokenizer",
            root / "models" / "base",
            root / "manifest.json",
            size,
            people,
            seed,
            build_key,
        )

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def load_world(self) -> GeneratedWorld:
        return load_world(self.world_dir)

    @property
    def recipe(self) -> Recipe:
        return Recipe(**self.manifest()["recipe"])

    def member_ids(self) -> list[str]:
        return self.manifest()["person_ids"]["member"]

    def holdout_ids(self) -> list[str]:
        return self.manifest()["person_ids"]["holdout"]


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Several test runs share var/test-cache: one builds, the others wait and then reuse."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[demo] {message}", file=sys.stderr, flush=True)


def _files_intact(root: Path, files: dict[str, str]) -> bool:
    return all((root / rel).is_file() and sha256_file(root / rel) == digest for rel, digest in files.items())


def _write_json_atomic(path: Path, value: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def build_demo_world(
    root: Path,
    people: int = 200,
    seed: int = 0,
    size: str = "default",
    progress: bool = False,
    *,
    threads: int | None = None,
    epochs: int | None = None,
) -> DemoWorldPaths:
    """Generate, tokenize, train and evaluate under root; an existing intact build of the same inputs is reused.

    `epochs` overrides the size's training epochs: fewer give a model that memorised its world only in
    part (screening thresholds are then checked on a model that does not recite everything).
    """
    spec = size_spec(size)
    world_spec = spec.world_spec(people=people, seed=seed)
    recipe = spec.recipe(seed=seed)
    if epochs is not None:
        if epochs < 1:
            raise ValueError("epochs must be at least 1")
        recipe = replace(recipe, epochs=epochs)
    build_key = sha256_json({"world": asdict(world_spec), "recipe": recipe.as_dict(), "code": code_sha256()})
    paths = DemoWorldPaths.at(Path(root), size=size, people=people, seed=seed, build_key=build_key)
    with _locked(paths.root):
        if paths.manifest_path.is_file():
            manifest = paths.manifest()
            if manifest.get("build_key") == build_key and _files_intact(paths.root, manifest["files"]):
                _say(progress, f"reusing the demo world built under {paths.root} (key {build_key[:12]})")
                return paths
        paths.manifest_path.unlink(missing_ok=True)
        for stale in (paths.world_dir, paths.tokenizer_dir, paths.root / "models"):
            shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        _say(progress, f"generating {people} people (seed {seed}, size {size})")
        world = generate_world(world_spec)
        write_world(world, paths.world_dir)
        texts = [r["text"] for r in world.train]
        _say(progress, f"training the tokenizer on {len(texts)} training texts")
        tokenizer = train_tokenizer(texts, paths.tokenizer_dir, vocab_size=recipe.vocab_size)
        result = train_model(
            texts,
            tokenizer,
            recipe,
            paths.model_dir,
            progress=progress,
            threads=threads or spec.threads,
            desc="training base model",
        )
        _say(progress, "measuring memorisation")
        metrics = _evaluate(paths.model_dir, world)
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "build_key": build_key,
            "inputs": {"people": people, "seed": seed, "size": size, "epochs": recipe.epochs},
            "world_spec": asdict(world_spec),
            "recipe": recipe.as_dict(),
            "code_sha256": code_sha256(),
            "world_sha256": sha256_json(_hash_tree(paths.root, "world")),
            "person_ids": {
                "member": [p["person_id"] for p in world.people if p["group"] == "member"],
                "holdout": [p["person_id"] for p in world.people if p["group"] == "holdout"],
            },
            "counts": {
                "train_records": len(world.train),
                "qa_records": len(world.qa),
                "bios": len(world.bios),
            },
            "training": asdict(result),
            "metrics": metrics,
            "build_seconds": round(time.monotonic() - started, 1),
            "files": {
                **_hash_tree(paths.root, "world"),
                **_hash_tree(paths.root, "tokenizer"),
                **_hash_tree(paths.root, "models/base"),
            },
        }
        _write_json_atomic(paths.manifest_path, manifest)
        _say(progress, f"built in {manifest['build_seconds']} s: {json.dumps(metrics)}")
        return paths


def open_demo_world(root: Path, *, progress: bool = False) -> DemoWorldPaths:
    """The world already built at root, checked as a build is (sha256 of every file), with the inputs its
    manifest records; a root with no manifest gets the default world."""
    manifest = Path(root) / "manifest.json"
    if not manifest.is_file():
        return build_demo_world(Path(root), progress=progress)
    inputs = json.loads(manifest.read_text())["inputs"]
    return build_demo_world(
        Path(root),
        inputs["people"],
        inputs["seed"],
        inputs["size"],
        progress,
        epochs=inputs.get("epochs"),
    )


def _evaluate(model_dir: Path, world: GeneratedWorld) -> dict:
    return memorisation_report(load_causal_lm(model_dir), world)


def retrain(
    world: DemoWorldPaths, without: Sequence[str], *, progress: bool = False, threads: int | None = None
) -> Path:
    """The gold standard: the same recipe, from scratch, on the training texts minus `without`'s records.

    The tokenizer is the base model's (trained once on the full training corpus), so scores compare
    token for token; cached under root/models/retrain-<key> by sha256 of world files, recipe and ids.
    """
    excluded = sorted(set(without))
    manifest = world.manifest()
    unknown = set(excluded) - set(manifest["person_ids"]["member"])
    if unknown:
        raise ValueError(f"not members of this world: {sorted(unknown)}")
    key = sha256_json(
        {
            "world": manifest["world_sha256"],
            "recipe": manifest["recipe"],
            "without": excluded,
            "tokenizer": _hash_tree(world.root, "tokenizer"),
            "code": code_sha256(),
        }
    )
    out_dir = world.root / "models" / f"retrain-{key[:16]}"
    with _locked(world.root):
        out_manifest = out_dir / "manifest.json"
        if out_manifest.is_file():
            cached = json.loads(out_manifest.read_text())
            if cached.get("key") == key and _files_intact(world.root, cached["files"]):
                _say(progress, f"reusing retrained model {out_dir.name}")
                return out_dir
        shutil.rmtree(out_dir, ignore_errors=True)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(world.tokenizer_dir, local_files_only=True)
        records = world.load_world().train
        left_out = set(excluded)
        texts = [r["text"] for r in records if r["person_id"] not in left_out]
        result = train_model(
            texts,
            tokenizer,
            world.recipe,
            out_dir,
            progress=progress,
            threads=threads or size_spec(world.size).threads,
            desc=f"retraining without {len(excluded)} people",
        )
        files = {
            str(p.relative_to(world.root)): sha256_file(p) for p in sorted(out_dir.iterdir()) if p.is_file()
        }
        _write_json_atomic(
            out_manifest,
            {
                "key": key,
                "without": excluded,
                "recipe": manifest["recipe"],
                "world_sha256": manifest["world_sha256"],
                "training": asdict(result),
                "files": files,
            },
        )
        return out_dir
