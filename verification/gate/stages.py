"""The gate's two measurements, without the database: the parent version on the candidate's probes, then
the candidate. `verification_run` stores each as a stage (a rerun keeps the finished one); the quality
benchmark calls the same functions, so that what it times is what the gate does."""

from __future__ import annotations

from pathlib import Path

from palimpsest.ml.loading import load_causal_lm
from verification.gate import figures as F
from verification.gate.probes import GateProbes
from verification.metrics import Budget, run_suite, suite_forgetting, suite_utility


def measure_parent(model_dir: Path, gate: GateProbes, plan: Budget) -> dict:
    """The parent on the same probes: the denominator of the utility ratios, and the report's "before"
    for every leak figure, per request too."""
    lm = load_causal_lm(Path(model_dir))
    forgetting = suite_forgetting(lm, gate.probes, plan)
    return {
        "figures": F.parent_figures(suite_utility(lm, gate.probes, plan), forgetting),
        "per_request": F.per_subject(forgetting, gate.subjects),
    }


def measure_candidate(model_dir: Path, gate: GateProbes, plan: Budget, parent_figures: dict) -> dict:
    """Every metric of the suite on the candidate, with the policy's checks against the parent."""
    suite = run_suite(load_causal_lm(Path(model_dir)), gate.probes, budget=plan)
    return {
        "figures": F.only_finite(F.headline_figures(suite, parent_figures).items()),
        "per_request": F.per_subject(suite, gate.subjects),
        "seconds": suite.seconds,
        "probe_counts": gate.counts,
    }
