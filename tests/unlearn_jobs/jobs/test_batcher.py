"""The batching rules on a frozen clock: size, age and deadline decide when approved requests become a job,
caps and urgency decide which go together, and the utility budget picks the strategy."""

from datetime import UTC, datetime, timedelta

import pytest

from unlearn_jobs.jobs.batcher import BatchPolicy, Candidate, choose_strategy, plan_batches

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = BatchPolicy(
    min_items=100,
    min_tokens=50_000,
    max_items=300,
    max_tokens=200_000,
    max_wait=timedelta(days=3),
    deadline_margin=timedelta(days=2),
    job_overhead=timedelta(minutes=15),
    seconds_per_item=6.0,
    verification=timedelta(hours=2),
)


def waiting(request_id, *, trained=10, tokens=500, age=timedelta(hours=1), due_in=timedelta(days=25), **kw):
    return Candidate(
        request_id=request_id,
        approved_at=NOW - age,
        due_at=NOW + due_in if due_in is not None else None,
        items=trained + 2,
        trained_items=trained,
        trained_tokens=tokens,
        **kw,
    )


def plan(candidates, **kw):
    return plan_batches(candidates, now=NOW, policy=POLICY, slots=kw.pop("slots", 3), **kw)


def test_small_young_requests_far_from_their_deadline_wait():
    assert plan([waiting(1), waiting(2)]) == []


def test_size_rule_batches_once_enough_items_or_tokens_wait():
    # Given 99 trained items waiting, then one more request
    assert plan([waiting(1, trained=60), waiting(2, trained=39)]) == []
    batches = plan([waiting(1, trained=60), waiting(2, trained=39), waiting(3, trained=1)])
    # Then one job takes all three, because of their size
    assert [(b.request_ids, b.reason, b.trained_items, b.items) for b in batches] == [
        ((1, 2, 3), "size", 100, 106)
    ]
    # And tokens alone reach the rule as well
    assert plan([waiting(1, trained=3, tokens=50_000)])[0].reason == "size"


def test_age_rule_batches_a_request_that_waited_the_longest_wait():
    just_young = waiting(1, age=timedelta(days=3) - timedelta(seconds=1))
    assert plan([just_young]) == []
    batches = plan([waiting(1, age=timedelta(days=3)), waiting(2)])
    assert [(b.request_ids, b.reason) for b in batches] == [((1, 2), "age")]


def test_deadline_rule_starts_when_job_plus_verification_would_end_inside_the_margin():
    # latest start = due - margin (2 d) - verification (2 h) - job (15 min + 10 items x 6 s = 16 min)
    latest = timedelta(days=2, hours=2, minutes=16)
    assert plan([waiting(1, due_in=latest + timedelta(seconds=1))]) == []
    batches = plan([waiting(1, due_in=latest)])
    assert [(b.request_ids, b.reason) for b in batches] == [((1,), "deadline")]
    assert batches[0].expected_seconds == 16 * 60


def test_the_queue_ahead_brings_the_deadline_forward():
    due_in = timedelta(days=2, hours=5)
    assert plan([waiting(1, due_in=due_in)]) == []
    batches = plan([waiting(1, due_in=due_in)], backlog=timedelta(hours=3))
    assert batches[0].reason == "deadline"


def test_caps_split_jobs_and_the_most_urgent_go_first():
    # Given 300 trained items a job, a request pressed by its deadline, one that waited four days, and bulk
    pressed = waiting(9, trained=200, due_in=timedelta(days=2))
    old = waiting(8, trained=150, age=timedelta(days=4))
    bulk = [waiting(i, trained=100) for i in (1, 2, 3)]
    batches = plan([*bulk, old, pressed], slots=3)
    # Then the pressed one leads the first job (the old one does not fit beside it), the old one the second,
    # and what is left is still large enough for a third
    assert [(b.request_ids, b.reason, b.trained_items) for b in batches] == [
        ((1, 9), "deadline", 300),
        ((2, 8), "age", 250),
        ((3,), "size", 100),
    ]


def test_a_request_larger_than_a_job_gets_a_job_of_its_own():
    batches = plan([waiting(1, trained=900, tokens=900_000)])
    assert [(b.request_ids, b.trained_items) for b in batches] == [((1,), 900)]


def test_slots_limit_the_jobs_made_now():
    batches = plan([waiting(i, trained=300) for i in range(1, 5)], slots=2)
    assert [b.request_ids for b in batches] == [(1,), (2,)]


def test_held_requests_wait_for_an_operator_who_batches_everything_now():
    held = waiting(1, age=timedelta(days=5), held=True)
    assert plan([held]) == []
    batches = plan([held, waiting(2)], manual=True)
    assert [(b.request_ids, b.reason) for b in batches] == [((1, 2), "age")]
    assert [(b.request_ids, b.reason) for b in plan([waiting(3)], manual=True)] == [((3,), "manual")]


@pytest.mark.parametrize(
    ("configured", "depth", "spent", "blocker", "expected", "why"),
    [
        ("auto", 0, 0.0, None, "incremental", "production is the base model"),
        ("auto", 2, 0.2, None, "incremental", "within budget"),
        ("auto", 2, 0.4, None, "rebase", "utility budget"),  # 0.4 + 0.2 expected > 0.5
        ("auto", 8, 0.08, None, "rebase", "chain length"),
        ("auto", 3, 0.45, "2 erased trained item(s) have no text left", "incremental", "rebase impossible"),
        ("incremental", 9, 5.0, None, "incremental", "configured: incremental"),
        ("rebase", 1, 0.0, None, "rebase", "configured: rebase"),
    ],
)
def test_strategy_follows_the_utility_budget(configured, depth, spent, blocker, expected, why):
    choice = choose_strategy(
        configured=configured,
        production_depth=depth,
        utility_spent=spent,
        budget=0.5,
        max_incremental=8,
        rebase_blocker=blocker,
    )
    assert choice.strategy == expected and why in choice.reason
