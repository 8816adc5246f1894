"""The sign-off policy: a threshold per check, and a verdict a release manager can read."""

import math

import pytest

from verification.gate.policy import DEFAULT_THRESHOLDS, evaluate, validate_thresholds

POLICY = {
    "forget/sampled_leak_bound": {"max": 0.035, "required": True, "label": "sampled leak"},
    "utility/ratio_to_parent": {"min": 0.97, "required": True},
    "forget/quality_p": {"min": 0.05, "required": False},
}


def test_a_model_within_every_threshold_passes():
    outcome = evaluate(
        {"forget/sampled_leak_bound": 0.035, "utility/ratio_to_parent": 0.99, "forget/quality_p": 0.4}, POLICY
    )
    assert outcome.passed and outcome.failed == []
    assert [c.reason for c in outcome.checks][0] == "0.035 ≤ 0.035"  # the bound itself passes


def test_one_check_over_its_threshold_fails_the_model_and_says_which():
    outcome = evaluate({"forget/sampled_leak_bound": 0.2, "utility/ratio_to_parent": 0.99}, POLICY)
    assert not outcome.passed
    assert [(c.name, c.reason) for c in outcome.failed] == [
        ("forget/sampled_leak_bound", "0.2 is not ≤ 0.035")
    ]


@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_required_check_not_measured_fails_and_an_optional_one_does_not(missing):
    outcome = evaluate(
        {"forget/sampled_leak_bound": missing, "utility/ratio_to_parent": 1.0, "forget/quality_p": missing},
        POLICY,
    )
    by_name = {c.name: c for c in outcome.checks}
    assert not by_name["forget/sampled_leak_bound"].passed
    assert "cannot pass unmeasured" in by_name["forget/sampled_leak_bound"].reason
    assert by_name["forget/quality_p"].passed and by_name["forget/quality_p"].reason == "not measured"
    assert not outcome.passed


def test_utility_below_its_minimum_fails():
    outcome = evaluate({"forget/sampled_leak_bound": 0.0, "utility/ratio_to_parent": 0.9}, POLICY)
    assert [c.name for c in outcome.failed] == ["utility/ratio_to_parent"]


@pytest.mark.parametrize(
    "thresholds, problem",
    [
        ({}, "at least one check"),
        ({"x": {"max": 1, "min": 0}}, "exactly one of"),
        ({"x": {"max": "low"}}, "finite number"),
        ({"x": {"max": float("inf")}}, "finite number"),
        ({"x": {"max": True}}, "finite number"),
        ({"x": {"min": 0.1, "required": "yes"}}, "true or false"),
        ({"x": 0.5}, "an object"),
    ],
)
def test_a_badly_written_policy_is_refused_with_the_check_named(thresholds, problem):
    problems = validate_thresholds(thresholds)
    assert problems and problem in problems[0]


def test_the_shipped_policy_is_sound():
    assert validate_thresholds(DEFAULT_THRESHOLDS) == []


def test_an_advisory_check_is_reported_but_does_not_decide():
    outcome = evaluate(
        {"forget/sampled_leak_bound": 0.01, "utility/ratio_to_parent": 1.0, "forget/quality_p": 0.001}, POLICY
    )
    advisory = next(c for c in outcome.checks if c.name == "forget/quality_p")
    assert outcome.passed and not advisory.passed and outcome.failed == []
