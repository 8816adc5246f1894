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
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

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
from requests_app.screening.checks import verdict as V  # noqa: E402
from requests_app.screening.checks.utility import COMMON_WORDS, load_embedder  # noqa: E402

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
    return requests, calibration, utility


def run(requests, context, batch: int, copies: int = 1):
    """Screen the requests in order, `batch` at a time (1: one request per call, as they trickle in).

    Every request is checked for duplicates against all requests before it, as the persisted index
    does in production, whichever the batch size. With `copies`, the stream is the requests that many
    times over, each copy against its own index: the same work again, not a stream of duplicates.
    """
    outcomes, indexes = [], [InMemoryIndex() for _ in range(copies)]
    stream = [(n // len(requests), req) for n, req in enumerate(requests * copies)]
    started = time.perf_counter()
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
                    IndexedItem(ItemRef(item.item_id, n, "in_review"), item.sha256, item.signature),
                    item.band_keys,
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
    parser.add_argument(
        "--batches",
        default="1,16,64,128",
        help="requests screened per call (1: one by one; more: a backlog, as a worker drains its queue)",
    )
    parser.add_argument("--people", type=int, default=20, help="genuine requesters (one request each)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "screening.md")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    batch_sizes = [int(b) for b in args.batches.split(",")]
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
    verdicts = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for batch in batch_sizes:
            run(requests[:batch], context, batch)  # warm-up: first-call allocations are not the steady rate
            outcomes, elapsed = run(requests, context, batch)
            # Linearity: the same requests twice over, as one stream (each copy its own duplicate index).
            _, elapsed_double = run(requests, context, batch, copies=2)
            timings[threads, batch] = (elapsed, elapsed_double, os.getloadavg()[0])
            verdicts[threads, batch] = [(r.risk, [i.verdict for i in r.items]) for _, r in outcomes]
    # Batching must not change a verdict: every setting is compared with the first.
    first = next(iter(verdicts.values()))
    same_verdicts = {key: value == first for key, value in verdicts.items()}

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
        f"| torch threads | requests per call | items/s ({n_items} items) | items/s ({2 * n_items} items) "
        "| speed / first row | time per item, double / single | verdicts as in the first row | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    baseline = next(iter(timings.values()))[0]
    for (threads, batch), (elapsed, elapsed_double, load) in timings.items():
        ratio = (elapsed_double / (2 * n_items)) / (elapsed / n_items)
        lines.append(
            f"| {threads} | {batch} | **{n_items / elapsed:.0f}** | {2 * n_items / elapsed_double:.0f} "
            f"| {baseline / elapsed:.2f}x | {ratio:.2f} | {'yes' if same_verdicts[threads, batch] else 'NO'} "
            f"| {load:.1f} |"
        )
    lines += [
        "",
        "1.00 in the double / single column = cost linear in items. With one torch thread two lanes share the "
        "models' work, one core each; with two, one lane does it all (two thread teams on two cores stall "
        f"each other). Embedder precision: {embedder.precision}.",
        "",
        "Per item read by the models: one forward pass (membership scores, the penultimate hidden state for "
        "the coreset); one greedy completion of the second half, skipped where teacher forcing already shows "
        "it reproduced or it has no words of its own; one embedding; and, for the candidates for unlearning "
        "only, a second forward pass with a backward pass stopping at the last block (gradient cosine). "
        "Items excluded by their text alone (low quality, padding) are not read by the models; identical "
        "texts in one call are read once. One request per call is the latency path (a request arriving "
        "alone); several per call is a worker draining a backlog (PALIMPSEST_SCREENING_BATCH_REQUESTS): the "
        "models read all their items in length-sorted tasks shared by two lanes, one core each, and each "
        "request is still judged on its own. The doubled stream screens every request twice, each copy "
        "against its own duplicate index, so it is the same work again and not a stream of duplicates.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
