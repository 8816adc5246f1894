"""The whole verification suite for one forget set under a budget: every metric of the package, on probes
capped by `Budget`, with a flat dict of slash-keyed figures for reports and logs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

from palimpsest.ml.loading import LoadedModel
from verification.metrics.greedy import (
    GreedyResult,
    MemorisationResult,
    knowledge,
    memorisation_strength,
    verbatim_memorisation,
)
from verification.metrics.leakage import DEFAULT_CONFIDENCE, DEFAULT_TAU, LeakageResult, probabilistic_leakage
from verification.metrics.mia import DEFAULT_K, MembershipResult, membership_inference
from verification.metrics.probes import ProbeSet, cap_per_kind, select_spread
from verification.metrics.robustness import DEFAULT_GROUP_SIZE, RobustnessResult, robustness
from verification.metrics.truth_ratio import ForgetQuality, TruthRatioResult, forget_quality, truth_ratios
from verification.metrics.utility import UtilityChange, UtilityResult, utility, utility_change


@dataclass(frozen=True)
class Budget:
    """How much the suite may ask. Defaults suit a verification run; `Budget.bounded()` a demo job on CPU."""

    samples: int = field(default=64, metadata={"help": "samples per probe for probabilistic leakage"})
    robustness_samples: int = field(default=16, metadata={"help": "samples per probe after each attack"})
    max_probes_per_kind: int | None = field(
        default=64, metadata={"help": "forget probes kept per kind (prefix-25, question, ...); None = all"}
    )
    max_robustness_probes: int | None = field(
        default=32, metadata={"help": "forget probes re-measured after each attack, spread over the kinds"}
    )
    max_membership_items: int | None = field(default=200, metadata={"help": "items per side of the MIA"})
    max_utility_probes: int | None = field(default=64, metadata={"help": "probes per utility group"})
    max_mixed_probes: int | None = field(default=32, metadata={"help": "mixed prompts"})
    sample_tokens: int | None = field(
        default=None, metadata={"help": "cap on sampled tokens; longer targets are judged on their start"}
    )
    sample_reference: bool = field(
        default=True, metadata={"help": "also sample the reference model, the floor of the leak rate"}
    )
    relearn_steps: int = field(default=10, metadata={"help": "fine-tuning steps of the relearning attack"})
    relearn_lr: float = field(default=1e-3, metadata={"help": "learning rate of the relearning attack"})
    quantize_bits: tuple[int, ...] = field(default=(8, 4), metadata={"help": "RTN widths to re-measure at"})
    group_size: int = field(default=DEFAULT_GROUP_SIZE, metadata={"help": "weights per quantization group"})
    tau: float = field(default=DEFAULT_TAU, metadata={"help": "ROUGE-L recall at which a sample leaks"})
    confidence: float = field(default=DEFAULT_CONFIDENCE, metadata={"help": "of the Clopper-Pearson bound"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    k: float = field(default=DEFAULT_K, metadata={"help": "share of tokens for Min-K% and Min-K%++"})
    seed: int = field(default=0, metadata={"help": "seed of every sampled figure"})
    batch_size: int = field(default=64, metadata={"help": "sequences per forward pass"})

    def __post_init__(self):
        if self.samples < 1 or self.robustness_samples < 1:
            raise ValueError("sample counts must be at least 1")
        if self.relearn_steps < 1 or self.relearn_lr <= 0:
            raise ValueError("relearning needs at least one step and a positive learning rate")
        if self.sample_tokens is not None and self.sample_tokens < 8:
            raise ValueError("sample_tokens is None (no cap) or at least 8")
        if not 0 < self.tau <= 1 or not 0 < self.confidence < 1 or not 0 < self.k <= 1:
            raise ValueError("tau and k lie in (0, 1], confidence in (0, 1)")
        for cap in (
            self.max_probes_per_kind,
            self.max_robustness_probes,
            self.max_membership_items,
            self.max_utility_probes,
            self.max_mixed_probes,
        ):
            if cap is not None and cap < 1:
                raise ValueError("a probe cap is None (no cap) or at least 1")

    @classmethod
    def bounded(cls) -> Budget:
        """A demo job's budget: a few seconds of CPU per model on the demo world."""
        return cls(
            samples=16,
            robustness_samples=8,
            max_probes_per_kind=12,
            max_robustness_probes=12,
            max_membership_items=40,
            max_utility_probes=16,
            max_mixed_probes=12,
            sample_tokens=32,
            sample_reference=False,
            relearn_steps=5,
            batch_size=64,
        )


@dataclass(frozen=True)
class SuiteResult:
    verbatim: GreedyResult
    knowledge: GreedyResult
    memorisation: MemorisationResult
    leakage: LeakageResult
    robustness: RobustnessResult
    membership: MembershipResult | None = None  # None without items on both sides
    utility: UtilityResult | None = None  # None without utility probes
    reference_leakage: LeakageResult | None = None
    truth_ratio: TruthRatioResult | None = None
    reference_truth_ratio: TruthRatioResult | None = None
    forget_quality: ForgetQuality | None = None
    utility_change: UtilityChange | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage, for sizing budgets

    def figures(self) -> dict[str, float]:
        """Every headline figure under a slash key (`leakage/upper_bound`, `mia/privleak`, ...)."""
        out: dict[str, float] = {
            "verbatim/rouge_recall": self.verbatim.rouge_recall,
            "verbatim/value_leak_rate": self.verbatim.value_leak_rate,
            **{f"verbatim/{kind}": v for kind, v in self.verbatim.by_kind.items()},
            "knowledge/rouge_recall": self.knowledge.rouge_recall,
            "knowledge/accuracy": self.knowledge.accuracy,
            **{f"knowledge/{kind}": v for kind, v in self.knowledge.by_kind.items()},
            "memorisation/extraction_strength": self.memorisation.extraction_strength,
            "memorisation/exact_memorisation": self.memorisation.exact_memorisation,
            "leakage/rate": self.leakage.leak_rate,
            "leakage/upper_bound": self.leakage.upper_bound,
            "leakage/worst_upper_bound": self.leakage.worst_upper_bound,
        }
        if self.membership is not None:
            out["mia/auc"] = self.membership.headline_auc
            out["mia/privleak"] = self.membership.headline_privleak
            out.update({f"mia/auc/{a}": v for a, v in self.membership.auc.items()})
            out.update({f"mia/privleak/{a}": v for a, v in self.membership.privleak.items()})
        if self.utility is not None:
            out["utility/model_utility"] = self.utility.model_utility
            out.update({f"utility/{part}": v for part, v in self.utility.parts.items()})
            out.update({f"utility/nll/{group}": v for group, v in self.utility.nll.items()})
        for name, result in self.robustness.leakage.items():
            out[f"robustness/{name}/leak_rate"] = result.leak_rate
            out[f"robustness/{name}/upper_bound"] = result.upper_bound
        for name, result in self.robustness.knowledge.items():
            out[f"robustness/{name}/rouge_recall"] = result.rouge_recall
        if self.robustness.mixed is not None:
            out["robustness/mixed/survival"] = self.robustness.mixed.survival
        if self.reference_leakage is not None:
            out["leakage/reference_rate"] = self.reference_leakage.leak_rate
            out["leakage/excess_rate"] = self.leakage.leak_rate - self.reference_leakage.leak_rate
        if self.truth_ratio is not None:
            out["truth_ratio/closer_to_one"] = self.truth_ratio.closer_to_one
        if self.forget_quality is not None:
            out["forget_quality/p_value"] = self.forget_quality.p_value
        if self.utility_change is not None:
            out["utility/change"] = self.utility_change.model_utility
            out["utility/relative_change"] = self.utility_change.relative
        return out


@dataclass(frozen=True)
class ForgettingResult:
    """What a model still says about a forget set, greedy and sampled: the part of the suite a parent
    version is measured on too, so that a report reads before and after."""

    verbatim: GreedyResult
    knowledge: GreedyResult
    leakage: LeakageResult


def capped(probes: ProbeSet, budget: Budget) -> ProbeSet:
    """The probe set cut to the budget: evenly spread picks, so every forgotten subject keeps a share."""
    keep_mixed = select_spread(range(len(probes.mixed)), budget.max_mixed_probes)
    return ProbeSet(
        verbatim=cap_per_kind(probes.verbatim, budget.max_probes_per_kind),
        questions=cap_per_kind(probes.questions, budget.max_probes_per_kind),
        forget_members=select_spread(probes.forget_members, budget.max_membership_items),
        holdout_members=select_spread(probes.holdout_members, budget.max_membership_items),
        truth_ratio=select_spread(probes.truth_ratio, budget.max_probes_per_kind),
        utility={
            name: select_spread(group, budget.max_utility_probes) for name, group in probes.utility.items()
        },
        relearn_items=list(probes.relearn_items),
        relearn_probes=select_spread(probes.relearn_probes, budget.max_robustness_probes),
        mixed=[probes.mixed[i] for i in keep_mixed],
        mixed_plain=[probes.mixed_plain[i] for i in keep_mixed],
    )


def suite_utility(lm: LoadedModel, probes: ProbeSet, budget: Budget) -> UtilityResult:
    """Utility as the suite measures it: for a parent version, to compare against."""
    return utility(lm, capped(probes, budget).utility, batch_size=budget.batch_size)


def _sampling(budget: Budget) -> dict:
    return {
        "temperature": budget.temperature,
        "tau": budget.tau,
        "confidence": budget.confidence,
        "max_new_tokens": budget.sample_tokens,
    }


def _leakage_args(budget: Budget) -> dict:
    return {
        "samples": budget.samples,
        "seed": budget.seed,
        "batch_size": budget.batch_size,
        **_sampling(budget),
    }


def suite_forgetting(lm: LoadedModel, probes: ProbeSet, budget: Budget) -> ForgettingResult:
    """Greedy answers and sampled leakage on the forget probes, as the suite measures them (`probes` are
    capped here: pass them uncapped)."""
    probes = capped(probes, budget)
    return ForgettingResult(
        verbatim=verbatim_memorisation(lm, probes.verbatim, batch_size=budget.batch_size),
        knowledge=knowledge(lm, probes.questions, batch_size=budget.batch_size),
        leakage=probabilistic_leakage(lm, probes.forget_probes, **_leakage_args(budget)),
    )


def run_suite(
    lm: LoadedModel,
    probes: ProbeSet,
    *,
    budget: Budget | None = None,
    reference: LoadedModel | None = None,
    parent_utility: UtilityResult | None = None,
) -> SuiteResult:
    """Every metric for `lm` on `probes` within `budget`.

    `reference` is the model retrained without the forget set, where one exists: it gives the reference AUC
    of PrivLeak (else 0.5) and the truth ratios forget quality is tested against (else no forget quality).
    `parent_utility` is `suite_utility` of the version `lm` came from (else no utility change).
    """
    budget = budget or Budget()
    probes = capped(probes, budget)
    seconds: dict[str, float] = {}
    started = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal started
        now = time.monotonic()
        seconds[stage] = round(now - started, 3)
        started = now

    verbatim = verbatim_memorisation(lm, probes.verbatim, batch_size=budget.batch_size)
    known = knowledge(lm, probes.questions, batch_size=budget.batch_size)
    memorisation = memorisation_strength(lm, probes.forget_probes, batch_size=budget.batch_size)
    lap("greedy")
    sampling, leak_args = _sampling(budget), _leakage_args(budget)
    leakage = probabilistic_leakage(lm, probes.forget_probes, **leak_args)
    reference_leakage = None
    if reference is not None and budget.sample_reference:
        reference_leakage = probabilistic_leakage(reference, probes.forget_probes, **leak_args)
    lap("leakage")
    membership = None
    if probes.forget_members and probes.holdout_members:
        mia_args = {"k": budget.k, "batch_size": budget.batch_size}
        reference_auc = None
        if reference is not None:
            reference_auc = membership_inference(
                reference, probes.forget_members, probes.holdout_members, **mia_args
            ).auc
        membership = membership_inference(
            lm, probes.forget_members, probes.holdout_members, reference_auc=reference_auc, **mia_args
        )
    lap("membership")
    ratio = reference_ratio = quality = None
    if probes.truth_ratio:
        ratio = truth_ratios(lm, probes.truth_ratio, batch_size=budget.batch_size)
        if reference is not None:
            reference_ratio = truth_ratios(reference, probes.truth_ratio, batch_size=budget.batch_size)
            quality = forget_quality(ratio, reference_ratio)
    lap("truth_ratio")
    kept = None
    if any(probes.utility.values()):
        kept = utility(lm, probes.utility, batch_size=budget.batch_size)
    lap("utility")
    attacked = robustness(
        lm,
        select_spread(probes.forget_probes, budget.max_robustness_probes),
        bits=budget.quantize_bits,
        group_size=budget.group_size,
        relearn_items=probes.relearn_items,
        relearn_probes=probes.relearn_probes,
        relearn_steps=budget.relearn_steps,
        relearn_lr=budget.relearn_lr,
        mixed=probes.mixed,
        plain=probes.mixed_plain,
        samples=budget.robustness_samples,
        seed=budget.seed,
        batch_size=budget.batch_size,
        **sampling,
    )
    lap("robustness")
    return SuiteResult(
        verbatim=verbatim,
        knowledge=known,
        memorisation=memorisation,
        leakage=leakage,
        membership=membership,
        reference_leakage=reference_leakage,
        utility=kept,
        robustness=attacked,
        truth_ratio=ratio,
        reference_truth_ratio=reference_ratio,
        forget_quality=quality,
        utility_change=utility_change(kept, parent_utility)
        if kept is not None and parent_utility is not None
        else None,
        seconds=seconds,
    )


def budget_fields() -> dict[str, str]:
    """Each budget field with its help text (for forms and docs)."""
    return {f.name: f.metadata.get("help", "") for f in fields(Budget)}
