"""The settings of a job retried after a failed verification."""

from unlearn_jobs.jobs.services import stronger_settings

ENGINE = {"epochs": 20.0, "max_steps": None, "min_steps": 200, "learning_rate": 2e-4}


def test_a_retry_that_must_forget_more_trains_twice_as_long_small_jobs_included():
    retry = stronger_settings(ENGINE, ["forget/sampled_leak_bound"], retry=1)
    assert (retry["epochs"], retry["min_steps"], retry["learning_rate"]) == (40.0, 400, 2e-4)
    second = stronger_settings(retry, ["forget/greedy_leak_rate"], retry=2)
    assert (second["epochs"], second["min_steps"], second["learning_rate"]) == (80.0, 800, 4e-4)


def test_a_retry_that_cost_too_much_utility_halves_the_learning_rate_only():
    retry = stronger_settings(ENGINE, ["utility/ratio_to_parent"], retry=1)
    assert (retry["epochs"], retry["min_steps"], retry["learning_rate"]) == (20.0, 200, 1e-4)
