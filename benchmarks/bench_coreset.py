"""Does pruning UPCORE outliers from the coreset lower utility damage at equal forgetting? Measured on a demo
world: for several people, the same unlearning run (NPO, LoRA) on all of the person's held items and on the
items UPCORE keeps (contamination 0.1), at several step counts; forgetting = rise of the NLL of the
person's whole forget set (every item, pruned ones included, as verification measures it), damage = rise
of the NLL of other people's records and the general facts (not trained on as retain).

    .venv/bin/python benchmarks/bench_coreset.py --root var/demo-tiny60 [--people 4] [--steps 10,25]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_screening import _world, world_description  # noqa: E402

from palimpsest.ml.loading import load_causal_lm  # noqa: E402
from palimpsest.ml.scoring import sequence_nll  # noqa: E402
from requests_app.screening.checks.coreset import upcore_inliers  # noqa: E402
from requests_app.screening.checks.model_pass import model_pass  # noqa: E402
from unlearn_jobs.engine.items import TextItem  # noqa: E402
from unlearn_jobs.engine.runner import run_unlearning  # noqa: E402
from unlearn_jobs.engine.spec import LoraSettings, UnlearnSpec  # noqa: E402


def _records(world, pid: str) -> list[str]:
    bio = [b["text"] for b in world.bios if b["person_id"] == pid]
    return bio + [
        q["prompt"] + q["completion"] for q in world.qa if q["person_id"] == pid and q["split"] == "train"
    ]


def _unlearn(model_dir: Path, forget: list[str], retain: list[str], steps: int, out: Path) -> Path:
    spec = UnlearnSpec(
        model_dir=model_dir,
        forget_items=[TextItem(text=t) for t in forget],
        retain_items=[TextItem(text=t) for t in retain],
        output_dir=out,
        method="npo",
        mode="lora",
        lora=LoraSettings(r=8, alpha=16),
        learning_rate=2e-3,
        max_steps=steps,
        forget_batch_size=8,
        retain_batch_size=8,
        device="cpu",
        seed=0,
    )
    return run_unlearning(spec).artifact_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--steps", default="10,25")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "screening-coreset.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = _world(args.root)
    world = paths.load_world()
    lm = load_causal_lm(paths.model_dir)
    members = paths.member_ids()
    retain_train = [t for pid in members[-10:-5] for t in _records(world, pid)]
    retain_eval = [t for pid in members[-5:] for t in _records(world, pid)] + [
        g["text"] for g in world.general
    ]
    base_forget = {}
    base_retain = float(np.mean(sequence_nll(lm, retain_eval)))
    rows = []
    for pid in members[: args.people]:
        forget = _records(world, pid)
        keep = upcore_inliers(model_pass(lm, forget).hidden, contamination=0.1)
        base_forget[pid] = float(np.mean(sequence_nll(lm, forget)))
        for steps in [int(s) for s in args.steps.split(",")]:
            for variant, trained in (
                ("all held items", forget),
                ("UPCORE 10 % pruned", [t for t, k in zip(forget, keep, strict=True) if k]),
            ):
                with tempfile.TemporaryDirectory() as tmp:
                    model_dir = _unlearn(paths.model_dir, trained, retain_train, steps, Path(tmp) / "out")
                    after = load_causal_lm(model_dir)
                    forgot = float(np.mean(sequence_nll(after, forget))) - base_forget[pid]
                    damage = float(np.mean(sequence_nll(after, retain_eval))) - base_retain
                rows.append((pid, steps, variant, len(trained), forgot, damage))
                print(rows[-1], flush=True)
    lines = [
        f"### Coreset: pruning measured on {world_description(paths)}",
        "",
        f"`benchmarks/bench_coreset.py --root {args.root}`: NPO, LoRA r 8, lr 2e-3, batch 8, retain = 5 other "
        "people's records; forgetting = rise of the mean NLL of the person's whole forget set, damage = rise of "
        "the mean NLL of 5 further people's records and the general facts. Per person and step count:",
        "",
        "| person | steps | trained on | items | forgetting (NLL rise) | damage (NLL rise) | damage / forgetting |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pid, steps, variant, n, forgot, damage in rows:
        ratio = damage / forgot if forgot > 0 else float("nan")
        lines.append(f"| {pid} | {steps} | {variant} | {n} | {forgot:.3f} | {damage:.4f} | {ratio:.4f} |")
    for variant in ("all held items", "UPCORE 10 % pruned"):
        chosen = [r for r in rows if r[2] == variant]
        lines.append(
            f"| **mean** | | {variant} | | {np.mean([r[4] for r in chosen]):.3f} | {np.mean([r[5] for r in chosen]):.4f} "
            f"| {np.mean([r[5] / r[4] for r in chosen if r[4] > 0]):.4f} |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
