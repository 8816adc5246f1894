"""Verification metrics (no Django): does a model still hold a forget set, and what did forgetting cost?

Plain functions over probes, tensors and a `LoadedModel`, each returning a small dataclass with an aggregate
and per-item figures; `suite.run_suite` runs them all under a `Budget`. See docs/verification.md.
"""

from verification.metrics.greedy import knowledge, memorisation_strength, verbatim_memorisation
from verification.metrics.leakage import clopper_pearson_upper, probabilistic_leakage
from verification.metrics.mia import membership_inference, privleak, roc_auc
from verification.metrics.probes import Probe, ProbeSet, TruthRatioItem, prefix_probes
from verification.metrics.robustness import (
    mixed_prompt_survival,
    quantized_copy,
    relearned_copy,
    robustness,
    rtn_quantize,
)
from verification.metrics.suite import (
    Budget,
    ForgettingResult,
    SuiteResult,
    run_suite,
    suite_forgetting,
    suite_utility,
)
from verification.metrics.truth_ratio import forget_quality, ks_forget_quality, truth_ratios
from verification.metrics.utility import harmonic_mean, utility, utility_change

__all__ = [
    "Budget",
    "ForgettingResult",
    "Probe",
    "ProbeSet",
    "SuiteResult",
    "TruthRatioItem",
    "clopper_pearson_upper",
    "forget_quality",
    "harmonic_mean",
    "knowledge",
    "ks_forget_quality",
    "membership_inference",
    "memorisation_strength",
    "mixed_prompt_survival",
    "prefix_probes",
    "privleak",
    "probabilistic_leakage",
    "quantized_copy",
    "relearned_copy",
    "robustness",
    "roc_auc",
    "rtn_quantize",
    "run_suite",
    "suite_forgetting",
    "suite_utility",
    "truth_ratios",
    "utility",
    "utility_change",
    "verbatim_memorisation",
]
