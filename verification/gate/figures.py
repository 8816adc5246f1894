"""From the suite's results to what the policy judges: the job's headline figures, the same per request,
and each against the parent version. Plain functions (no database)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from verification.metrics import SuiteResult, clopper_pearson_upper, harmonic_mean


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(value: float | None, parent: float | None) -> float | None:
    if value is None or parent is None or parent <= 0:
        return None
    return value / parent


def group_utility(figures: Mapping[str, float], group: str) -> float | None:
    """One utility group's sub-score (harmonic mean of its ROUGE and probability parts)."""
    parts = [figures.get(f"utility/{group}/rouge"), figures.get(f"utility/{group}/prob")]
    parts = [p for p in (_finite(v) for v in parts) if p is not None]
    return harmonic_mean(parts) if parts else None


def greedy_value_leak_rate(suite: SuiteResult) -> float | None:
    """Share of forget probes (prefixes and questions) whose greedy answer shows a protected value."""
    answers = [*suite.verbatim.per_item, *suite.knowledge.per_item]
    return sum(a.value_leaked for a in answers) / len(answers) if answers else None


def value_leak_bound(result) -> float | None:
    """Upper bound of the rate of samples that show a protected value of the person (e-mail, phone,
    address, date; in the demo world a value no other person holds).

    This, not the ROUGE side of a leak, is what the policy judges: a continuation of a template
    sentence ("... enjoys hiking") reaches ROUGE-L 0.9 from a model that never saw the person, so
    ROUGE leaks measure the template as much as the person (the retrained model "leaks" 8 % that way on
    the tiny world). The ROUGE-inclusive rate stays in the report as `leakage/rate`.
    """
    samples = sum(p.samples for p in result.per_item)
    if not samples:
        return None
    return clopper_pearson_upper(sum(p.value_leaks for p in result.per_item), samples, result.confidence)


def _attacked(suite: SuiteResult, name: str) -> float | None:
    result = suite.robustness.leakage.get(name)
    return value_leak_bound(result) if result is not None else None


def headline_figures(
    suite: SuiteResult, parent: Mapping[str, float] | None = None
) -> dict[str, float | None]:
    """Every raw figure of the suite, plus the policy's checks (see verification/gate/policy.py)."""
    raw = {k: _finite(v) for k, v in suite.figures().items()}
    parent = parent or {}
    privleak = raw.get("mia/privleak")
    checks = {
        **forgetting_figures(suite),
        "robustness/quant8_leak_bound": _attacked(suite, "int8"),
        "robustness/quant4_leak_bound": _attacked(suite, "int4"),
        "robustness/relearn_leak_rate": raw.get("robustness/relearned/leak_rate"),
        # against the parent's own survival where measured: a small model answers fewer questions
        # asked second in a prompt whether or not it forgot anything (the demo world's base: 0.47)
        "robustness/mixed_prompt_utility": (
            _ratio(raw.get("robustness/mixed/survival"), parent.get("robustness/mixed/survival"))
            if parent.get("robustness/mixed/survival")
            else raw.get("robustness/mixed/survival")
        ),
        "mia/privleak_abs": abs(privleak) if privleak is not None else None,
        "forget/quality_p": raw.get("forget_quality/p_value"),
        "utility/ratio_to_parent": _ratio(
            raw.get("utility/model_utility"), parent.get("utility/model_utility")
        ),
        "utility/neighbours_ratio_to_parent": _ratio(
            group_utility(raw, "neighbour"), group_utility(parent, "neighbour")
        ),
    }
    return {**raw, **checks}


def per_subject(suite, subjects: Mapping[str, str]) -> dict[str, dict]:
    """Figures per request of a `SuiteResult` or a `ForgettingResult`: `subjects` maps a probe's subject id
    to the request id it stands for.

    A request passes the forgetting checks on its own probes; an item the model never held must not
    leak either, so every item of its forget set is counted.
    """
    confidence = suite.leakage.confidence
    greedy: dict[str, list[bool]] = defaultdict(list)
    for answer in (*suite.verbatim.per_item, *suite.knowledge.per_item):
        if answer.subject_id in subjects:
            greedy[subjects[answer.subject_id]].append(answer.value_leaked)
    sampled: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for probe in suite.leakage.per_item:
        if probe.subject_id in subjects:
            tally = sampled[subjects[probe.subject_id]]
            tally[0] += probe.value_leaks
            tally[1] += probe.samples
            tally[2] += 1
    out: dict[str, dict] = {}
    for request_id in sorted(set(greedy) | set(sampled), key=str):
        leaks, samples, probes = sampled.get(request_id, [0, 0, 0])
        values = greedy.get(request_id, [])
        out[request_id] = {
            "probes": probes,
            "forget/greedy_leak_rate": sum(values) / len(values) if values else None,
            "leakage/value_rate": leaks / samples if samples else None,
            "forget/sampled_leak_bound": clopper_pearson_upper(leaks, samples, confidence)
            if samples
            else None,
        }
    return out


def request_verdicts(per_request: Mapping[str, dict], thresholds: Mapping[str, Mapping]) -> dict[str, bool]:
    """Whether each request's own forgetting figures keep within the policy's forgetting thresholds."""
    verdicts = {}
    for request_id, figures in per_request.items():
        passed = True
        for name in ("forget/greedy_leak_rate", "forget/sampled_leak_bound"):
            rule, value = thresholds.get(name), figures.get(name)
            if rule is None or value is None:
                continue
            passed &= value <= rule["max"] if "max" in rule else value >= rule["min"]
        verdicts[request_id] = bool(passed)
    return verdicts


def forgetting_figures(result) -> dict[str, float | None]:
    """The forgetting checks of a `SuiteResult` or a `ForgettingResult` (greedy and sampled leaks)."""
    samples = sum(p.samples for p in result.leakage.per_item)
    return {
        "forget/greedy_leak_rate": greedy_value_leak_rate(result),
        "forget/sampled_leak_bound": value_leak_bound(result.leakage),
        "leakage/value_rate": sum(p.value_leaks for p in result.leakage.per_item) / samples
        if samples
        else None,
    }


def parent_figures(parent_utility, parent_forgetting=None, parent_mixed=None) -> dict[str, float | None]:
    """What the gate keeps of the parent version: its utility (the denominator of the utility ratios) and,
    where measured, what it still says about the forget set (the report's "before") and how many normal
    answers it keeps in mixed prompts (the denominator of that check)."""
    forgetting = forgetting_figures(parent_forgetting) if parent_forgetting is not None else {}
    mixed = [("robustness/mixed/survival", parent_mixed.survival)] if parent_mixed is not None else []
    return only_finite(
        [("utility/model_utility", parent_utility.model_utility)]
        + [(f"utility/{k}", v) for k, v in parent_utility.parts.items()]
        + list(forgetting.items())
        + mixed
    )


def only_finite(figures: Iterable[tuple[str, float | None]]) -> dict[str, float | None]:
    """JSON in PostgreSQL has no NaN: a figure that could not be computed is stored as null."""
    return {k: _finite(v) if isinstance(v, int | float) else v for k, v in figures}
