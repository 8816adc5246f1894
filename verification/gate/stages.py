"""The gate's two measurements, without the database: the parent version on the candidate's probes, then
the candidate. `verification_run` stores each as a stage (a rerun keeps the finished one); the quality
benchmark calls the same functions, so that what it times is what the gate does."""

from __future__ import annotations

from pathlib import Path

from palimpsest.ml.loading import load_causal_lm
from verification.gate import figures as F
from verification.gate.probes import GateProbes
from verification.metrics import Budget, mixed_prompt_survival, run_suite, suite_forgetting, suite_utility
from verification.metrics.suite import capped


def measure_parent(model_dir: Path, gate: GateProbes, plan: Budget) -> dict:
    """The parent on the same probes: the denominator of the utility ratios and of the mixed-prompt check,
    and the report's "before" for every leak figure, per request too."""
    lm = load_causal_lm(Path(model_dir))
    forgetting = suite_forgetting(lm, gate.probes, plan)
    probes = capped(gate.probes, plan)  # the mixed prompts the candidate's suite asks
    mixed = (
        mixed_prompt_survival(lm, probes.mixed, probes.mixed_plain, batch_size=plan.batch_size)
        if probes.mixed
        else None
    )
    return {
        "figures": F.parent_figures(suite_utility(lm, gate.probes, plan), forgetting, mixed),
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
