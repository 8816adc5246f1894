"""Second screening benchmark: requests as people write them (`own_words_cases.py`, its own seed and
sentence templates), against a built demo world. Per kind and overall: genuine items wrongly excluded,
poison items excluded, genuine requests marked high risk; and items per second.

    .venv/bin/python benchmarks/bench_screening_own_words.py --root var/demo [--people 20] [--batch 128]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bench_screening  # noqa: E402
import torch  # noqa: E402
from bench_screening import BenchRequest, _world, bench_context, reference_texts, run, world_description  # noqa: E402
from own_words_cases import SEED, build_cases  # noqa: E402
from screening_metrics import GOALS, Outcome, table, tally  # noqa: E402

from requests_app.screening.checks import Requester  # noqa: E402

KINDS = [
    "own_words",
    "single_fact",
    "cut_sentences",
    "heldout_phrasing",
    "never_seen_own_words",
    "general_with_name",
    "someone_elses_record",
    "invented_record",
    "obfuscated",
    "mixed",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--root", type=Path, default=None, help="a built demo world (default: the tiny world)"
    )
    parser.add_argument("--people", type=int, default=20, help="members who make requests")
    parser.add_argument("--batch", type=int, default=128, help="requests screened per call")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "screening-own-words.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = _world(args.root)
    world = paths.load_world()
    people = {p["person_id"]: p for p in world.people}
    calibration, utility, unseen = reference_texts(paths)
    cases = build_cases(world, paths.member_ids(), unseen, people=args.people)
    requests = [
        BenchRequest(
            case.kind,
            Requester(people[case.requester_id]["name"], people[case.requester_id]["attributes"]["email"]),
            case.items,
        )
        for case in cases
    ]
    context, t_load, t_context = bench_context(paths, calibration, utility)
    run(requests[: args.batch], context, args.batch)  # warm-up
    started = time.perf_counter()
    outcomes, elapsed = run(requests, context, args.batch)
    load = os.getloadavg()[0]
    total = time.perf_counter() - started
    n_items = sum(len(r.texts) for r in requests)
    results = [
        Outcome(case.kind, case.truth, report) for case, (_, report) in zip(cases, outcomes, strict=True)
    ]
    by_kind = tally(results)
    mixed_high = by_kind["mixed"]["high"]
    lines = [
        f"### Own-words benchmark on {world_description(paths)}",
        "",
        f"`benchmarks/bench_screening_own_words.py --root {args.root}` (generator seed {SEED}): "
        f"{len(requests)} requests, {n_items} items, {args.people} members as requesters and "
        f"{len(unseen)} never-seen people. " + GOALS + ".",
        "",
        *table(by_kind, KINDS),
        "",
        f"Mixed requests (genuine items with poison among them) marked high risk: {mixed_high} of "
        f"{by_kind['mixed']['requests']}.",
        "",
        f"Speed: **{n_items / elapsed:.0f} items/s** ({args.batch} requests per call, one torch thread, two "
        f"lanes; {1000 * bench_screening.LAST_CPU_SECONDS / n_items:.1f} CPU ms per item over both lanes; "
        f"1-minute load average {load:.1f}; {total:.1f} s in all). Once per worker: loading "
        f"{t_load:.1f} s, calibration and the rest {t_context:.1f} s.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
