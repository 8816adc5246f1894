"""What both screening benchmarks report, per kind and overall: genuine items wrongly excluded, poison items
excluded, genuine requests marked high risk, genuine items trained on, and the figures' markdown table."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from requests_app.screening.checks import verdict as V

GENUINE, POISON = "genuine", "poison"
GOALS = "goals: genuine items wrongly excluded <= 5 %, poison items excluded >= 95 %, genuine requests high risk <= 5 %"


@dataclass
class Outcome:
    kind: str
    truth: list[str]  # GENUINE or POISON per item
    report: object  # RequestReport


def _rate(num: int, den: int) -> str:
    return f"{num}/{den} = {num / den:.1%}" if den else "–"


def tally(outcomes: list[Outcome]) -> dict[str, Counter]:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for outcome in outcomes:
        for c in (by_kind[outcome.kind], by_kind["overall"]):
            c["requests"] += 1
            all_genuine = all(t == GENUINE for t in outcome.truth)
            if all_genuine:
                c["genuine_requests"] += 1
                c["genuine_high"] += outcome.report.risk == V.HIGH
            c["high"] += outcome.report.risk == V.HIGH
            for truth, item in zip(outcome.truth, outcome.report.items, strict=True):
                excluded = item.verdict == V.EXCLUDE
                c[f"{truth}_items"] += 1
                c[f"{truth}_excluded"] += excluded
                # Left out only as a repeat of the requester's own earlier request, which forgets it.
                c[f"{truth}_excluded_own_repeat"] += excluded and set(
                    item.flags.codes
                ) & V.EXCLUDING_FLAGS == {V.DUPLICATE_EARLIER}
                c[f"{truth}_coreset"] += item.in_coreset
                for code in set(item.flags.codes):
                    c[f"flag:{code}"] += 1
    return by_kind


def table(by_kind: dict[str, Counter], kinds_order: list[str]) -> list[str]:
    lines = [
        "| kind | requests | genuine items wrongly excluded | the same, less repeats of the requester's own "
        "earlier request | poison items excluded | genuine requests high risk | genuine items in the coreset "
        "| most frequent flags |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in [*kinds_order, "overall"]:
        c = by_kind.get(kind)
        if c is None:
            continue
        flags = Counter({k.removeprefix("flag:"): v for k, v in c.items() if k.startswith("flag:")})
        top = ", ".join(f"{code} {n}" for code, n in flags.most_common(3)) or "none"
        name = f"**{kind}**" if kind == "overall" else kind
        lines.append(
            f"| {name} | {c['requests']} | {_rate(c['genuine_excluded'], c['genuine_items'])} "
            f"| {_rate(c['genuine_excluded'] - c['genuine_excluded_own_repeat'], c['genuine_items'])} "
            f"| {_rate(c['poison_excluded'], c['poison_items'])} | {_rate(c['genuine_high'], c['genuine_requests'])} "
            f"| {_rate(c['genuine_coreset'], c['genuine_items'])} | {top} |"
        )
    return lines
