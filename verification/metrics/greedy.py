"""What the model says when it says its most likely continuation: verbatim reproduction from prefixes,
answers to questions (knowledge), and the teacher-forced memorisation scores (extraction strength, exact
memorisation) of the same probes. Deterministic: the same model and probes give the same figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from palimpsest.ml.generation import greedy_continue
from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.membership import exact_memorization, extraction_strength
from palimpsest.ml.scoring import token_statistics
from palimpsest.ml.text import rouge_l
from verification.metrics.probes import Probe, mentions

# Tokens allowed beyond the target's own length: room for a different tokenisation, not for a second answer.
EXTRA_TOKENS = 4


@dataclass(frozen=True)
class ProbeAnswer:
    """One probe's greedy answer, as figures only (the text itself may be personal data)."""

    item_id: str
    kind: str
    subject_id: str | None
    rouge_recall: float  # ROUGE-L recall of the output against the target (TOFU)
    rouge_f1: float  # ROUGE-L F1 (MUSE)
    correct: bool  # every word of the target came back, in order (recall 1)
    value_leaked: bool  # a protected value of the probe appears in the output


@dataclass(frozen=True)
class GreedyResult:
    rouge_recall: float  # mean over probes
    rouge_f1: float
    accuracy: float  # share of probes answered correctly
    value_leak_rate: float  # share of probes whose output shows a protected value
    by_kind: dict[str, float]  # mean ROUGE-L recall per probe kind
    per_item: tuple[ProbeAnswer, ...]


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")


def target_budgets(lm: LoadedModel, probes: Sequence[Probe], extra: int = EXTRA_TOKENS) -> list[int]:
    """New tokens to generate per probe: the target's token count plus `extra`."""
    return [len(lm.tokenizer(p.target, add_special_tokens=False)["input_ids"]) + extra for p in probes]


def shorten_target(lm: LoadedModel, probe: Probe, max_tokens: int) -> Probe:
    """The probe judged on its target's first `max_tokens` tokens (its protected values all still count)."""
    ids = lm.tokenizer(probe.target, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return probe
    return replace(probe, target=lm.tokenizer.decode(ids[:max_tokens], skip_special_tokens=True))


def shorten_targets(
    lm: LoadedModel, probes: Sequence[Probe], max_new_tokens: int | None, extra_tokens: int = EXTRA_TOKENS
) -> list[Probe]:
    """With a cap on new tokens, every target cut to what fits in it beside `extra_tokens`."""
    if max_new_tokens is None:
        return list(probes)
    if max_new_tokens <= extra_tokens:
        raise ValueError("max_new_tokens must leave room beyond extra_tokens")
    return [shorten_target(lm, p, max_new_tokens - extra_tokens) for p in probes]


def score_output(probe: Probe, output: str) -> ProbeAnswer:
    score = rouge_l(output, probe.target)
    return ProbeAnswer(
        item_id=probe.item_id,
        kind=probe.kind,
        subject_id=probe.subject_id,
        rouge_recall=score.recall,
        rouge_f1=score.f1,
        correct=score.recall == 1.0,
        value_leaked=any(mentions(output, value) for value in probe.protected),
    )


def summarise(answers: Sequence[ProbeAnswer]) -> GreedyResult:
    kinds: dict[str, list[float]] = {}
    for answer in answers:
        kinds.setdefault(answer.kind, []).append(answer.rouge_recall)
    return GreedyResult(
        rouge_recall=_mean([a.rouge_recall for a in answers]),
        rouge_f1=_mean([a.rouge_f1 for a in answers]),
        accuracy=_mean([float(a.correct) for a in answers]),
        value_leak_rate=_mean([float(a.value_leaked) for a in answers]),
        by_kind={kind: _mean(values) for kind, values in kinds.items()},
        per_item=tuple(answers),
    )


def greedy_answers(
    lm: LoadedModel,
    probes: Sequence[Probe],
    *,
    batch_size: int = 32,
    max_new_tokens: int | None = None,
    extra_tokens: int = EXTRA_TOKENS,
) -> GreedyResult:
    """Greedy continuation of every probe's prompt, scored against its target and protected values.

    Each output may run to its target's length plus `extra_tokens`; with `max_new_tokens`, longer targets
    are judged on their first tokens only (see `shorten_target`).
    """
    if not probes:
        return summarise([])
    probes = shorten_targets(lm, probes, max_new_tokens, extra_tokens)
    outputs = greedy_continue(
        lm,
        [p.prompt for p in probes],
        max_new_tokens=target_budgets(lm, probes, extra_tokens),
        batch_size=batch_size,
    )
    return summarise([score_output(p, o) for p, o in zip(probes, outputs, strict=True)])


def verbatim_memorisation(lm: LoadedModel, probes: Sequence[Probe], *, batch_size: int = 32) -> GreedyResult:
    """Verbatim: ROUGE-L of greedy continuations of text prefixes (kinds prefix-25/50/75) against the rest
    of the text. 1 = the text comes back word for word; a model that never saw the text still scores the
    share of words it can guess from the text's template, which is why the retrained model is the yardstick.
    """
    return greedy_answers(lm, probes, batch_size=batch_size)


def knowledge(lm: LoadedModel, probes: Sequence[Probe], *, batch_size: int = 32) -> GreedyResult:
    """Knowledge: greedy answers to questions about the facts (trained phrasings and phrasings never trained
    on), ROUGE-L recall against the true answer and the share answered correctly."""
    return greedy_answers(lm, probes, batch_size=batch_size)


@dataclass(frozen=True)
class ProbeMemorisation:
    item_id: str
    kind: str
    subject_id: str | None
    extraction_strength: float  # 1 - k*/|y|
    exact_memorisation: float  # share of teacher-forced argmax tokens equal to the target


@dataclass(frozen=True)
class MemorisationResult:
    extraction_strength: float  # mean over probes
    exact_memorisation: float
    per_item: tuple[ProbeMemorisation, ...]


def memorisation_strength(
    lm: LoadedModel, probes: Sequence[Probe], *, batch_size: int = 32, max_length: int = 512
) -> MemorisationResult:
    """Extraction strength and exact memorisation of each probe's target given its prompt (teacher-forced).

    ES = 1 - k*/|y|, k* the shortest target prefix after which every argmax prediction is right; EM = the
    share of target tokens that are the argmax prediction (METHODS.md).
    """
    stats = token_statistics(
        lm, [(p.prompt, p.target) for p in probes], batch_size=batch_size, max_length=max_length
    )
    per_item = tuple(
        ProbeMemorisation(p.item_id, p.kind, p.subject_id, extraction_strength(s), exact_memorization(s))
        for p, s in zip(probes, stats, strict=True)
    )
    return MemorisationResult(
        extraction_strength=_mean(
            [m.extraction_strength for m in per_item if not math.isnan(m.extraction_strength)]
        ),
        exact_memorisation=_mean(
            [m.exact_memorisation for m in per_item if not math.isnan(m.exact_memorisation)]
        ),
        per_item=per_item,
    )
