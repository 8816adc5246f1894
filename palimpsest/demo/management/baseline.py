"""The 'before' of the journey's summary: the gate's own measurement (same probes, same budget) taken on
the parent version, so that each request's leak rates can be read before and after unlearning."""

from __future__ import annotations

from pathlib import Path

from palimpsest.ml.loading import load_causal_lm
from unlearn_jobs.registry.models import ModelVersion
from verification.gate import figures as F
from verification.gate.probes import gate_probes
from verification.gate.services import budget
from verification.metrics import run_suite


def parent_forgetting_figures(*, version_number: int) -> dict[str, dict]:
    """Request id -> the parent's figures on the probes the gate asked the candidate `version_number`."""
    version = ModelVersion.objects.select_related("parent", "produced_by").get(number=version_number)
    gate = gate_probes(version)
    suite = run_suite(load_causal_lm(Path(version.parent.artifact_path)), gate.probes, budget=budget())
    return F.per_subject(suite, gate.subjects)
