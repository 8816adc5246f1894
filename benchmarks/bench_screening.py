"""Screening benchmark: recall / false-positive rate of the exclude and high-risk verdicts, and items per second.

Genuine requests are demo people asking for their own records; poison requests are general facts, common-word
padding, gibberish, someone else's data, text the model never saw, and long repetitions. Writes
docs/benchmarks/screening.md.

    .venv/bin/python benchmarks/bench_screening.py [--root var/demo] [--threads 1,2] [--batches 1,16,64,128]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from screening_metrics import GENUINE, GOALS, POISON, Outcome, table, tally  # noqa: E402

from palimpsest.demo.build import DemoWorldPaths, build_demo_world  # noqa: E402
from palimpsest.ml.loading import load_causal_lm  # noqa: E402
from requests_app.screening.checks import (  # noqa: E402
    IndexedItem,
    InMemoryIndex,
    ItemRef,
    Requester,
    RequestToScreen,
    ScreenItem,
    build_context,
    screen_batch,
)
from requests_app.screening.checks.dedupe import requester_key  # noqa: E402
from requests_app.screening.checks.utility import COMMON_WORDS, load_embedder  # noqa: E402

TINY_ROOT = ROOT / "var" / "test-cache" / "demo-tiny"
# CPU seconds of this process (both lanes) in the last `run`: on a shared machine the load moves the wall
# clock far more than the work screening does.
LAST_CPU_SECONDS = 0.0


@dataclass
class BenchRequest:
    kind: str  # "genuine" or the poison kind
    requester: Requester
    texts: list[str]


def _world(root: Path | None) -> DemoWorldPaths:
    if root is not None:
        manifest = DemoWorldPaths.at(root, size="", people=0, seed=0, build_key="")
        inputs = manifest.manifest()["inputs"]
        return build_demo_world(
            root,
            people=inputs["people"],
            seed=inputs["seed"],
            size=inputs["size"],
            epochs=inputs.get("epochs"),
        )
    return build_demo_world(TINY_ROOT, people=20, seed=7, size="tiny")


def world_description(paths: DemoWorldPaths) -> str:
    manifest = paths.manifest()
    metrics = manifest["metrics"]
    where = paths.root.relative_to(ROOT) if paths.root.is_relative_to(ROOT) else paths.root
    return (
        f"`{where}` (size {manifest['inputs']['size']}, {len(paths.member_ids())} trained people, "
        f"{len(paths.holdout_ids())} holdout people, {manifest['recipe']['epochs']} epochs: trained-question "
        f"exact match {metrics['qa_em_trained']:.2f}, held-out phrasings {metrics['qa_em_paraphrase']:.2f}, "
        f"people reproduced from their bio {metrics['bio_people_reproduced']:.2f})"
    )


def reference_texts(paths: DemoWorldPaths) -> tuple[list[str], list[str], list[str]]:
    """Calibration texts (the first half of the holdout people), the utility-critical set, and the ids of
    the other half of the holdout people (never seen, never calibrated on: requesters)."""
    world = paths.load_world()
    holdout = paths.holdout_ids()
    calibration = [
        t
        for pid in holdout[: len(holdout) // 2]
        for t in [b["text"] for b in world.bios if b["person_id"] == pid]
        + [
            q["prompt"] + q["completion"]
            for q in world.qa
            if q["person_id"] == pid and q["split"] == "holdout"
        ]
    ]
    utility = [g["text"] for g in world.general] + [
        q["prompt"] + q["completion"] for q in world.general_qa if q["split"] == "train"
    ]
    return calibration, utility, holdout[len(holdout) // 2 :]


def bench_context(paths: DemoWorldPaths, calibration: list[str], utility: list[str]):
    """The model and embedder loaded, and the context built, as a worker does once: (context, seconds)."""
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
    return context, t_load, time.perf_counter() - t0


def build_requests(paths: DemoWorldPaths, rng: random.Random, n_people: int, unseen_people: list[str]):
    """Genuine requests (members asking for their own records; never-seen people asking for theirs, which
    are their data though the model never held them) and six kinds of poison."""
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
    # The evaluation suite and general facts the model must keep; poison uses their unseen paraphrases.
    general_poison = [q["prompt"] + q["completion"] for q in world.general_qa if q["split"] == "paraphrase"]
    general_poison += [g["text"] for g in world.general]
    common = sorted(COMMON_WORDS)
    # Genuine requests come first: the poison copying someone's records then duplicates an earlier request
    # (flagged, as the persisted index flags it), and never the other way round.
    requests = [BenchRequest("genuine", requester(pid), records(pid, ("train",))) for pid in members]
    for i, pid in enumerate(members):
        own = records(pid, ("train",))
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
    return requests


def run(requests, context, batch: int, copies: int = 1):
    """Screen the requests in order, `batch` at a time (1: one request per call, as they trickle in).

    Every request is checked for duplicates against all requests before it, as the persisted index
    does in production, whichever the batch size. With `copies`, the stream is the requests that many
    times over, each copy against its own index: the same work again, not a stream of duplicates.
    """
    outcomes, indexes = [], [InMemoryIndex() for _ in range(copies)]
    stream = [(n // len(requests), req) for n, req in enumerate(requests * copies)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(stream), batch):
        chunk = list(enumerate(stream[start : start + batch], start=start))
        reports = screen_batch(
            [
                RequestToScreen(
                    [ScreenItem(f"{n}.{i}", t) for i, t in enumerate(req.texts)], req.requester, indexes[c], n
                )
                for n, (c, req) in chunk
            ],
            context=context,
        )
        for (n, (c, req)), report in zip(chunk, reports, strict=True):
            for item in report.items:
                indexes[c].add_indexed(
                    IndexedItem(
                        ItemRef(item.item_id, n, "in_review", requester_key(req.requester.email)),
                        item.sha256,
                        item.signature,
                    ),
                    item.band_keys,
                )
            outcomes.append((req, report))
    global LAST_CPU_SECONDS
    LAST_CPU_SECONDS = time.process_time() - cpu_started
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
    parser.add_argument(
        "--batches",
        default="1,16,64,128",
        help="requests screened per call (1: one by one; more: a backlog, as a worker drains its queue)",
    )
    parser.add_argument("--people", type=int, default=20, help="genuine requesters (one request each)")
    parser.add_argument("--double", action="store_true", help="also time the stream twice over (linearity)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "screening-corpus.md")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    batch_sizes = [int(b) for b in args.batches.split(",")]
    torch.set_num_threads(thread_counts[0])
    rng = random.Random(0)
    paths = _world(args.root)
    calibration, utility, unseen = reference_texts(paths)
    requests = build_requests(paths, rng, args.people, unseen)
    context, t_load, t_context = bench_context(paths, calibration, utility)
    n_items = sum(len(r.texts) for r in requests)
    timings = {}
    verdicts = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for batch in batch_sizes:
            run(requests[:batch], context, batch)  # warm-up: first-call allocations are not the steady rate
            outcomes, elapsed = run(requests, context, batch)
            cpu = LAST_CPU_SECONDS
            elapsed_double = None
            if args.double:  # the same requests twice over, as one stream (each copy its own index)
                _, elapsed_double = run(requests, context, batch, copies=2)
            timings[threads, batch] = (elapsed, elapsed_double, os.getloadavg()[0], cpu)
            verdicts[threads, batch] = [(r.risk, [i.verdict for i in r.items]) for _, r in outcomes]
    # Batching must not change a verdict: every setting is compared with the first.
    first = next(iter(verdicts.values()))
    same_verdicts = {key: value == first for key, value in verdicts.items()}
    genuine_kinds = ("genuine", "never_seen")
    results = [
        Outcome(req.kind, [GENUINE if req.kind in genuine_kinds else POISON] * len(req.texts), report)
        for req, report in outcomes
    ]
    by_kind = tally(results)
    kinds = ["genuine", "never_seen", *sorted(k for k in by_kind if k not in (*genuine_kinds, "overall"))]
    lines = [
        f"### Corpus benchmark on {world_description(paths)}",
        "",
        f"`benchmarks/bench_screening.py --root {args.root}`: {len(requests)} requests, {n_items} items; "
        f"calibration: {len(calibration)} non-member texts; utility-critical set: {len(utility)} texts. "
        "Genuine: members asking for their training records word for word, and never-seen holdout people "
        "asking for their own records (their data: kept, nothing to train on). " + GOALS + ".",
        "",
        *table(by_kind, kinds),
        "",
        f"- once per worker process: loading the model and the embedder {t_load:.1f} s; calibration "
        f"(membership and knowledge), utility embeddings and the retain gradient {t_context:.1f} s",
        "",
        "| torch threads | requests per call | items/s | CPU ms per item (all lanes) | items/s, stream twice "
        "over | verdicts as in the first row | 1-min load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (threads, batch), (elapsed, elapsed_double, load, cpu) in timings.items():
        double = f"{2 * n_items / elapsed_double:.0f}" if elapsed_double else "–"
        lines.append(
            f"| {threads} | {batch} | **{n_items / elapsed:.0f}** | {1000 * cpu / n_items:.1f} | {double} "
            f"| {'yes' if same_verdicts[threads, batch] else 'NO'} | {load:.1f} |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
