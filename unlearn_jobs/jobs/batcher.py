"""The batching rules, as plain functions of the waiting requests and a clock: when approved requests
become a job (deadline, age, size), which go together, and which strategy the job takes.

No database here: `services.py` reads the rows, asks these functions, and writes what they decide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CHARS_PER_TOKEN = 4  # a conservative estimate for batching; the engine counts real tokens


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Candidate:
    """An approved request waiting for a job, as the batcher sees it (ids and figures only)."""

    request_id: int
    approved_at: datetime
    due_at: datetime | None
    items: int  # the forget set: every item is verified
    trained_items: int  # the coreset: what the engine trains on
    trained_tokens: int
    held: bool = False  # failed too many jobs: only an operator's "batch now" takes it


@dataclass(frozen=True)
class BatchPolicy:
    min_items: int  # size rule: trained items waiting ...
    min_tokens: int  # ... or trained tokens waiting
    max_items: int  # one job takes at most this many trained items ...
    max_tokens: int  # ... and tokens (a request larger than that alone still gets a job of its own)
    max_wait: timedelta  # age rule: no request waits longer than this after approval
    deadline_margin: timedelta  # deadline rule: the new model is verified this long before the due date
    job_overhead: timedelta  # expected job time = overhead + seconds_per_item x trained items
    seconds_per_item: float
    verification: timedelta  # expected verification time after the job

    def expected_job(self, trained_items: int) -> timedelta:
        return self.job_overhead + timedelta(seconds=self.seconds_per_item * trained_items)


@dataclass(frozen=True)
class Batch:
    request_ids: tuple[int, ...]
    reason: str  # deadline | age | size | manual
    items: int
    trained_items: int
    trained_tokens: int
    expected_seconds: float


def _latest_start(candidate: Candidate, policy: BatchPolicy, trained_items: int) -> datetime | None:
    """The last moment a job holding this request may start and still be verified before its due date
    minus the margin."""
    if candidate.due_at is None:
        return None
    return (
        candidate.due_at - policy.deadline_margin - policy.verification - policy.expected_job(trained_items)
    )


def _urgency(candidate: Candidate, *, now: datetime, policy: BatchPolicy, backlog: timedelta) -> str | None:
    latest = _latest_start(candidate, policy, candidate.trained_items)
    if latest is not None and now + backlog >= latest:
        return "deadline"
    if now - candidate.approved_at >= policy.max_wait:
        return "age"
    return None


def _fits(total_items: int, total_tokens: int, candidate: Candidate, policy: BatchPolicy) -> bool:
    return (
        total_items + candidate.trained_items <= policy.max_items
        and total_tokens + candidate.trained_tokens <= policy.max_tokens
    )


def plan_batches(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    policy: BatchPolicy,
    slots: int,
    backlog: timedelta = timedelta(0),
    manual: bool = False,
) -> list[Batch]:
    """At most `slots` batches of the waiting requests, most urgent first.

    A batch is made when one of its requests is pressed by its deadline (`backlog`: the queue ahead of a
    new job) or has waited `max_wait`, when the waiting trained items or tokens reach the size rule, or
    when an operator asks (`manual`, which also takes held requests). Requests are taken by urgency, then
    due date, then approval time, while the job's item and token caps allow.
    """
    pool = [c for c in candidates if manual or not c.held]
    batches: list[Batch] = []
    while pool and len(batches) < slots:
        urgency = {c.request_id: _urgency(c, now=now, policy=policy, backlog=backlog) for c in pool}
        far_future = datetime.max.replace(tzinfo=now.tzinfo)
        pool.sort(
            key=lambda c: (
                {"deadline": 0, "age": 1}.get(urgency[c.request_id], 2),
                c.due_at or far_future,
                c.approved_at,
                c.request_id,
            )
        )
        chosen: list[Candidate] = []
        items = tokens = 0
        for candidate in pool:
            if not chosen or _fits(items, tokens, candidate, policy):
                chosen.append(candidate)
                items += candidate.trained_items
                tokens += candidate.trained_tokens
        reasons = {urgency[c.request_id] for c in chosen}
        if "deadline" in reasons:
            reason = "deadline"
        elif "age" in reasons:
            reason = "age"
        elif items >= policy.min_items or tokens >= policy.min_tokens:
            reason = "size"
        elif manual:
            reason = "manual"
        else:
            break
        batches.append(
            Batch(
                request_ids=tuple(sorted(c.request_id for c in chosen)),
                reason=reason,
                items=sum(c.items for c in chosen),
                trained_items=items,
                trained_tokens=tokens,
                expected_seconds=policy.expected_job(items).total_seconds(),
            )
        )
        taken = {c.request_id for c in chosen}
        pool = [c for c in pool if c.request_id not in taken]
        # the next job waits for this one: its deadline checks count it as backlog
        backlog += policy.expected_job(items)
    return batches


@dataclass(frozen=True)
class StrategyChoice:
    strategy: str  # incremental | rebase
    reason: str


def choose_strategy(
    *,
    configured: str,
    production_depth: int,
    utility_spent: float,
    budget: float,
    max_incremental: int,
    rebase_blocker: str | None,
) -> StrategyChoice:
    """Incremental (from production, on the new forget sets) while the utility budget lasts; rebase (from
    the base, on every forget set so far) once one more incremental version is expected to overspend it
    or the chain reaches `max_incremental`. `production_depth` counts the incremental versions (and the
    last rebase) since the base; `rebase_blocker` says why a rebase cannot be made now, if it cannot."""
    if configured == "incremental":
        return StrategyChoice("incremental", "configured: incremental")
    if production_depth == 0:
        return StrategyChoice("incremental", "production is the base model: incremental is a rebase")
    if configured == "rebase":
        wanted = "configured: rebase"
    else:
        expected_next = utility_spent / production_depth
        if utility_spent + expected_next > budget:
            wanted = (
                f"utility budget: {utility_spent:.3f} spent + {expected_next:.3f} expected > {budget:.3f}"
            )
        elif production_depth >= max_incremental:
            wanted = f"chain length: {production_depth} incremental versions (max {max_incremental})"
        else:
            return StrategyChoice("incremental", f"within budget: {utility_spent:.3f} of {budget:.3f} spent")
    if rebase_blocker:
        return StrategyChoice("incremental", f"{wanted}; rebase impossible: {rebase_blocker}")
    return StrategyChoice("rebase", wanted)
