"""Screening benchmark: recall / false-positive rate of the exclude and high-risk verdicts, and items per second.

Genuine requests are demo people asking for their own records; poison requests are general facts, common-word
padding, gibberish, someone else's data, text the model never saw, and long repetitions. Writes
docs/benchmarks/screening.md.

    .venv/bin/python benchmarks/bench_screening.py [--root var/demo] [--threads 1,2] [--people 20]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from palimpsest.demo.build import DemoWorldPaths, build_demo_world  # noqa: E402
from palimpsest.ml.loading import load_causal_lm  # noqa: E402
from requests_app.screening import Requester, ScreenItem, build_context, screen  # noqa: E402
from requests_app.screening import verdict as V  # noqa: E402
from requests_app.screening.utility import COMMON_WORDS, load_embedder  # noqa: E402

TINY_ROOT = ROOT / "var" / "test-cache" / "demo-tiny"


@dataclass
class BenchRequest:
    kind: str  # "genuine" or the poison kind
    requester: Requester
    texts: list[str]


def _world(root: Path | None) -> DemoWorldPaths:
    if root is not None:
        manifest = DemoWorldPaths.at(root, size="", people=0, seed=0, build_key="")
        inputs = manifest.manifest()["inputs"]
        return build_demo_world(root, people=inputs["people"], seed=inputs["seed"], size=inputs["size"])
    return build_demo_world(TINY_ROOT, people=20, seed=7, size="tiny")


def build_requests(paths: DemoWorldPaths, rng: random.Random, n_people: int):
    world = paths.load_world()
    people = {p["person_id"]: p for p in world.people}

    def requester(pid: str) -> Requester:
        return Requester(people[pid]["name"], people[pid]["attributes"]["email"])

    def records(pid: str, splits: tuple[str, ...]) -> list[str]:
        bio = [b["text"] for b in world.bios if b["person_id"] == pid]
        qa = [
            q["prompt"] + q["completion"] for q in world.qa if q["person_id"] == pid and q["split"] in splits
        ]
        return bio + qa

    members = paths.member_ids()[:n_people]
    holdout = paths.holdout_ids()
    calibration_people, unseen_people = holdout[: len(holdout) // 2], holdout[len(holdout) // 2 :]
    calibration = [t for pid in calibration_people for t in records(pid, ("holdout",))]
    # The evaluation suite and general facts the model must keep; poison uses their unseen paraphrases.
    utility = [g["text"] for g in world.general] + [
        q["prompt"] + q["completion"] for q in world.general_qa if q["split"] == "train"
    ]
    general_poison = [q["prompt"] + q["completion"] for q in world.general_qa if q["split"] == "paraphrase"]
    general_poison += [g["text"] for g in world.general]
    common = sorted(COMMON_WORDS)
    requests: list[BenchRequest] = []
    for i, pid in enumerate(members):
        own = records(pid, ("train",))
        requests.append(BenchRequest("genuine", requester(pid), own))
        other = members[(i + 1) % len(members)]
        requests.append(BenchRequest("someone_else", requester(pid), records(other, ("train",))[:6]))
        requests.append(BenchRequest("general_facts", requester(pid), rng.sample(general_poison, 6)))
        padded = [f"{t} {' '.join(rng.choices(common, k=3 * len(t.split())))}" for t in rng.sample(own, 4)]
        requests.append(BenchRequest("padding", requester(pid), padded))
        gibberish = [
            " ".join("".join(rng.choices("bcdfghjklmnpqrstvwxz", k=rng.randint(3, 9))) for _ in range(12)),
            " ".join("".join(rng.choices("#$%&*@!?~^=+", k=rng.randint(2, 5))) for _ in range(10)),
        ]
        requests.append(BenchRequest("gibberish", requester(pid), gibberish))
        requests.append(
            BenchRequest("repetition", requester(pid), [" ".join([t] * 12) for t in rng.sample(own, 2)])
        )
    for pid in unseen_people:
        requests.append(BenchRequest("never_seen", requester(pid), records(pid, ("holdout",))))
    return requests, calibration, utility


def run(requests, context):
    outcomes = []
    started = time.perf_counter()
    for req in requests:
        report = screen(
            [ScreenItem(i, t) for i, t in enumerate(req.texts)], requester=req.requester, context=context
        )
        outcomes.append((req, report))
    return outcomes, time.perf_counter() - started


def _rate(num: int, den: int) -> str:
    return f"{num}/{den} = {num / den:.1%}" if den else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--root", type=Path, default=None, help="a built demo world (default: the tiny world)"
    )
    parser.add_argument(
        "--threads",
        default="1,2",
        help="torch intra-op thread counts to time (1: the embedder runs alongside)",
    )
    parser.add_argument("--people", type=int, default=20, help="genuine requesters (one request each)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "screening.md")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    torch.set_num_threads(thread_counts[0])
    rng = random.Random(0)
    paths = _world(args.root)
    requests, calibration, utility = build_requests(paths, rng, args.people)
    t0 = time.perf_counter()
    lm = load_causal_lm(paths.model_dir)
    embedder = load_embedder()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    context = build_context(
        lm,
        nonmember_texts=calibration,
        utility_texts=utility,
        retain_texts=utility[:: max(1, len(utility) // 16)][:16],
        embedder=embedder,
        model_label=paths.model_dir.name,
    )
    t_context = time.perf_counter() - t0
    n_items = sum(len(r.texts) for r in requests)
    timings = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        run(requests[:3], context)  # warm-up: first-call allocations are not part of the steady rate
        outcomes, elapsed = run(requests, context)
        # Linearity: the same requests twice over, as one stream.
        _, elapsed_double = run(requests + requests, context)
        timings[threads] = (elapsed, elapsed_double, os.getloadavg()[0])

    item_counts: dict[str, Counter] = defaultdict(Counter)
    request_counts: dict[str, Counter] = defaultdict(Counter)
    flag_counts: dict[str, Counter] = defaultdict(Counter)
    empty_coreset_genuine = 0
    for req, report in outcomes:
        for item in report.items:
            item_counts[req.kind][item.verdict] += 1
            for code in item.flags.codes:
                flag_counts[req.kind][code] += 1
        request_counts[req.kind][report.risk] += 1
        if req.kind == "genuine" and not report.coreset:
            empty_coreset_genuine += 1
    poison_kinds = sorted(k for k in item_counts if k != "genuine")
    poison_items = sum(sum(item_counts[k].values()) for k in poison_kinds)
    poison_excluded = sum(item_counts[k][V.EXCLUDE] for k in poison_kinds)
    genuine_items = sum(item_counts["genuine"].values())
    genuine_excluded = item_counts["genuine"][V.EXCLUDE]
    poison_requests = sum(sum(request_counts[k].values()) for k in poison_kinds)
    poison_high = sum(request_counts[k][V.HIGH] for k in poison_kinds)
    genuine_requests = sum(request_counts["genuine"].values())
    genuine_high = request_counts["genuine"][V.HIGH]
    lines = [
        "# Screening benchmark",
        "",
        "Written by `benchmarks/bench_screening.py`; figures measured on this machine, not asserted in tests.",
        "",
        f"- world: `{paths.root.relative_to(ROOT) if paths.root.is_relative_to(ROOT) else paths.root}` "
        f"(size {paths.manifest()['inputs']['size']}, {len(paths.member_ids())} trained people, "
        f"{len(paths.holdout_ids())} holdout people: half calibrate, half are the 'never seen' requesters)",
        f"- model: {sum(p.numel() for p in lm.model.parameters()):,} parameters; "
        f"{os.cpu_count()} cores, shared with other jobs (1-minute load average given with each timing)",
        f"- {len(requests)} requests, {n_items} items; calibration: {len(calibration)} non-member texts; "
        f"utility-critical set: {len(utility)} texts",
        "",
        "## Verdicts",
        "",
        "| | exclude (items) | high risk (requests) |",
        "| --- | --- | --- |",
        f"| recall on poison | {_rate(poison_excluded, poison_items)} | {_rate(poison_high, poison_requests)} |",
        f"| false positives on genuine | {_rate(genuine_excluded, genuine_items)} "
        f"| {_rate(genuine_high, genuine_requests)} |",
        "",
        f"Genuine requests that ended with an empty coreset: {empty_coreset_genuine} of {genuine_requests}.",
        "",
        "| kind | requests | items | excluded items | high-risk requests | most frequent flags |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ["genuine", *poison_kinds]:
        items = sum(item_counts[kind].values())
        top = ", ".join(f"{code} {n}" for code, n in flag_counts[kind].most_common(3)) or "none"
        lines.append(
            f"| {kind} | {sum(request_counts[kind].values())} | {items} | {item_counts[kind][V.EXCLUDE]} "
            f"| {request_counts[kind][V.HIGH]} | {top} |"
        )
    lines += [
        "",
        "## Cost",
        "",
        f"- once per worker process: loading the model and the embedder {t_load:.1f} s; calibration, "
        f"utility embeddings and the retain gradient {t_context:.1f} s",
        "",
        f"| torch threads | items/s ({n_items} items) | items/s ({2 * n_items} items) | time per item, double / single | load |",
        "| --- | --- | --- | --- | --- |",
    ]
    for threads, (elapsed, elapsed_double, load) in timings.items():
        ratio = (elapsed_double / (2 * n_items)) / (elapsed / n_items)
        lines.append(
            f"| {threads} | **{n_items / elapsed:.0f}** | {2 * n_items / elapsed_double:.0f} | {ratio:.2f} "
            f"| {load:.1f} |"
        )
    lines += [
        "",
        "1.00 in the ratio column = cost linear in items. With one thread the embedder runs alongside the "
        "language model (one core each).",
        "",
        "Per item: one forward pass (with a backward pass stopping at the last block) gives the membership "
        "scores, the penultimate hidden state for the coreset and the gradient cosine; one greedy completion "
        "of the second half; one embedding. Requests are screened one by one, each batched internally.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
