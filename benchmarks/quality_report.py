"""docs/benchmarks/quality.md and quality.png from the rows bench_quality.py recorded: one table per forget
fraction, the learning-rate trials, the best setting against the issue's goals, and utility against the
leak bound as a picture."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks" / "quality.md"
NOTES = ROOT / "docs" / "benchmarks" / "quality-notes.md"  # written by hand, appended when present
LABELS = {
    "ga": "GA",
    "grad_diff": "GradDiff",
    "kl": "KL",
    "npo": "NPO",
    "simnpo": "SimNPO",
    "rmu": "RMU",
    "refusal": "refusal",
}
GOALS = {"forget_quality_p": 0.05, "leak_bound": 0.035, "utility": 0.97, "compute": 0.02, "gate_seconds": 180}


def _fig(row: dict, name: str):
    return (row.get("figures") or {}).get(name)


def worst_utility(row: dict) -> float | None:
    values = [_fig(row, "utility/ratio_to_parent"), _fig(row, "utility/neighbours_ratio_to_parent")]
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _num(value, spec: str = ".3f", scale: float = 1.0, suffix: str = "") -> str:
    return "–" if value is None else f"{value * scale:{spec}}{suffix}"


def _verdict(row: dict) -> str:
    if row["passed"]:
        return "**pass**"
    names = [
        c.replace("robustness/", "").replace("forget/", "").replace("utility/", "")
        for c in row["failed_checks"]
    ]
    return "fail: " + ", ".join(names)


def _setting(row: dict) -> tuple:
    return (row["method"], row["mode"], row["learning_rate"])


def final_rows(rows: list[dict]) -> list[dict]:
    """Per method and mode, the rows of the learning rate kept after the trials on the smallest fraction:
    the one carried to larger fractions, or the best trial while no larger fraction has been run."""
    smallest = min(r["fraction"] for r in rows)
    by_setting = defaultdict(list)
    for row in rows:
        by_setting[_setting(row)].append(row)
    by_method = defaultdict(list)
    for setting in sorted(by_setting):
        by_method[setting[:2]].append(setting)
    kept = []
    for settings in by_method.values():
        carried = [s for s in settings if any(r["fraction"] > smallest for r in by_setting[s])]
        if carried:
            kept += [r for s in carried for r in by_setting[s]]
        else:
            kept.append(max((r for s in settings for r in by_setting[s]), key=_rank))
    return kept


def _rank(row: dict) -> tuple:
    bound = _fig(row, "forget/sampled_leak_bound")
    return (
        row["passed"],
        row["required_passed"],
        worst_utility(row) or 0.0,
        -(bound if bound is not None else 1),
    )


def best_setting(rows: list[dict]) -> tuple | None:
    """The setting that passes the gate at the most fractions, then keeps utility best, then costs least."""
    by_setting = defaultdict(list)
    for row in final_rows(rows):
        by_setting[_setting(row)].append(row)
    if not by_setting:
        return None

    def score(setting):
        group = by_setting[setting]
        utilities = [worst_utility(r) or 0.0 for r in group]
        return (
            len(group),
            sum(r["passed"] for r in group),
            statistics.fmean(utilities),
            -statistics.fmean(r["compute_share_tokens"] for r in group),
        )

    return max(by_setting, key=score)


HEADER = (
    "| method | mode | lr | verdict | forget quality p | leak bound | greedy leak | PrivLeak | utility | "
    "neighbours | 4-bit bound | relearned leak | mixed prompts (parent) | job | compute (tokens) | compute (wall) | gate |"
)


def _line(row: dict) -> str:
    return (
        f"| {LABELS[row['method']]} | {row['mode']} | {row['learning_rate']:g} | {_verdict(row)} "
        f"| {_num(row.get('forget_quality_p'), '.3g')} "
        f"| {_num(_fig(row, 'forget/sampled_leak_bound'), '.1f', 100, ' %')} "
        f"| {_num(_fig(row, 'forget/greedy_leak_rate'), '.1f', 100, ' %')} "
        f"| {_num(row.get('privleak_vs_retrained'), '.1f')} "
        f"| {_num(_fig(row, 'utility/ratio_to_parent'))} "
        f"| {_num(_fig(row, 'utility/neighbours_ratio_to_parent'))} "
        f"| {_num(_fig(row, 'robustness/quant4_leak_bound'), '.1f', 100, ' %')} "
        f"| {_num(_fig(row, 'robustness/relearn_leak_rate'), '.1f', 100, ' %')} "
        f"| {_num(_fig(row, 'robustness/mixed_prompt_utility'), '.2f')} ({_num(row.get('parent_mixed_survival'), '.2f')}) "
        f"| {row['job_seconds']:.0f} s | {row['compute_share_tokens'] * 100:.2f} % "
        f"| {row['compute_share_seconds'] * 100:.2f} % | {_num(row.get('gate_seconds'), '.0f', 1, ' s')} |"
    )


def _goals(rows: list[dict], best: tuple) -> list[str]:
    mine = sorted((r for r in final_rows(rows) if _setting(r) == best), key=lambda r: r["fraction"])
    out = [
        f"## The best setting: {LABELS[best[0]]}, {best[1]} mode, learning rate {best[2]:g}",
        "",
        "Goals of issue #13 for the best method, per forget fraction (met / not met):",
        "",
        "| fraction | gate | forget quality p ≥ 0.05 | leak bound ≤ 3.5 % | utility ≥ 0.97 of parent (worse of all "
        "and neighbours) | compute ≤ 2 % of retraining (tokens; wall) | gate run < 3 min |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in mine:
        fq, bound, util = (
            row.get("forget_quality_p"),
            _fig(row, "forget/sampled_leak_bound"),
            worst_utility(row),
        )
        gate = row.get("gate_seconds")

        def met(ok):
            return "met" if ok else "**not met**"

        out.append(
            f"| {row['fraction']:.0%} ({row['people']} people, {row['texts']} texts) | {_verdict(row)} "
            f"| {_num(fq, '.3g')} {met(fq is not None and fq >= GOALS['forget_quality_p'])} "
            f"| {_num(bound, '.1f', 100, ' %')} {met(bound is not None and bound <= GOALS['leak_bound'])} "
            f"| {_num(util)} {met(util is not None and util >= GOALS['utility'])} "
            f"| {row['compute_share_tokens'] * 100:.2f} %; {row['compute_share_seconds'] * 100:.2f} % "
            f"{met(row['compute_share_tokens'] <= GOALS['compute'])} "
            f"| {_num(gate, '.0f', 1, ' s')} {met(gate is not None and gate < GOALS['gate_seconds'])} |"
        )
    return out + [""]


def write_picture(rows: list[dict], picture: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    colours = dict(zip(LABELS, plt.get_cmap("tab10").colors, strict=False))
    for row in final_rows(rows):
        bound, util = _fig(row, "forget/sampled_leak_bound"), worst_utility(row)
        if bound is None or util is None:
            continue
        ax.scatter(
            bound * 100,
            util,
            s=30 + 600 * row["fraction"],
            color=colours[row["method"]],
            marker="o" if row["mode"] == "full" else "^",
            edgecolors="black" if row["passed"] else "none",
            alpha=0.8,
        )
    for method, colour in colours.items():
        ax.scatter([], [], color=colour, label=LABELS[method])
    ax.scatter([], [], color="grey", marker="o", label="full mode")
    ax.scatter([], [], color="grey", marker="^", label="LoRA mode")
    ax.axvline(GOALS["leak_bound"] * 100, color="grey", linestyle="--", linewidth=1)
    ax.axhline(GOALS["utility"], color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(0.3, 60)
    ax.set_xlabel("sampled leak bound, 99 % Clopper-Pearson (%, log scale)  — goal ≤ 3.5 %")
    ax.set_ylabel("utility / parent's (worse of all and neighbours) — goal ≥ 0.97")
    ax.set_title(
        "Unlearning on the demo world: utility against leakage\n"
        "(size: share forgotten; outlined: passed the gate; collapsed jobs wrote no model)"
    )
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    fig.tight_layout()
    fig.savefig(picture)
    plt.close(fig)


def latest(rows: list[dict]) -> list[dict]:
    """The newest row of each setting and fraction (rows are recorded in order; a rerun under other
    settings or another policy records new rows, and the older stay in the file as history)."""
    newest = {}
    for row in rows:
        newest[(*_setting(row), row["fraction"])] = row
    return list(newest.values())


def write_report(rows: list[dict], page: Path | None = None) -> None:
    rows = latest(rows)
    if not rows:
        return
    page = page or PAGE
    picture = page.with_suffix(".png")
    shares = sorted({r["fraction"] for r in rows})
    first = rows[0]
    lines = [
        "# Quality of the unlearning methods on the demo world",
        "",
        "Written by `benchmarks/bench_quality.py` from `docs/benchmarks/quality-runs.jsonl` (the run before this "
        "one, under the first policy and without the step floor, is kept in `quality-runs-first.jsonl`); the "
        "protocol is the "
        "script's docstring. Each row is a real job (the product's engine settings with method, mode and learning "
        "rate replaced) judged as the gate judges a candidate: the gate's probes, the product's budget, policy "
        "version 1. Forget quality and PrivLeak are against the model retrained without the forgotten people. "
        "*mixed prompts* is the gate's advisory check: the share of normal answers that survive a question about "
        "a forgotten person asked just before, the candidate's over the parent's, with the parent's own share in "
        "brackets. *utility* is the candidate's model utility over the parent's; *neighbours* the same for kept people "
        "who share an attribute value with a forgotten person. *compute (tokens)* is the job's training tokens "
        "over the retraining's (both forward and backward); *compute (wall)* its wall time over the retraining's "
        "(threads noted below). *gate* is the parent's utility pass plus the candidate's suite, one torch thread.",
        "",
        f"Machine: {first['machine']}, {first['threads']} torch thread(s) per run; retraining recorded with "
        f"{first['retrain_threads']} thread(s). 1-minute load average during the rows: "
        f"{min(min(r['load']) for r in rows):.1f} to {max(max(r['load']) for r in rows):.1f}.",
        "",
        f"![utility against leak bound]({picture.name})",
        "",
    ]
    best = best_setting(rows)
    if best is not None:
        lines += _goals(rows, best)
    final = final_rows(rows)
    for share in shares:
        mine = sorted((r for r in final if r["fraction"] == share), key=_rank, reverse=True)
        if not mine:
            continue
        head = mine[0]
        lines += [
            f"## Forgetting {share:.0%} of the people ({head['people']} people, {head['texts']} texts; "
            f"retraining {head['retrain_seconds']:.0f} s)",
            "",
            HEADER,
            "| " + " | ".join(["---"] * 17) + " |",
            *(_line(r) for r in mine),
            "",
        ]
    trials = sorted(
        (r for r in rows if r["fraction"] == shares[0]),
        key=lambda r: (r["method"], r["mode"], r["learning_rate"]),
    )
    lines += [
        f"## Learning-rate trials at {shares[0]:.0%} (three per mode; the best carried to the larger sets)",
        "",
        HEADER,
        "| " + " | ".join(["---"] * 17) + " |",
        *(_line(r) for r in trials),
        "",
    ]
    if NOTES.is_file():
        lines += [NOTES.read_text().rstrip(), ""]
    page.write_text("\n".join(lines))
    write_picture(rows, picture)
    print(f"wrote {page} and {picture}")
