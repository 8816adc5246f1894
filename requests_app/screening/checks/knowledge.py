"""Knowledge evidence: does the model tie an item's facts to the requester, whatever the item's wording?

A person asking to be forgotten writes what they know about themselves; they never have the training
text. So besides "can the model recite this string" (`membership.py`), screening asks the model about each
fact the item states (`facts.py`), in the model's own probe form ("Question: What is the phone number of
{name}?\nAnswer: {value}"), once with the requester's name and once with each of ANON_NAMES names it never
saw (holdout people). Per fact, from the mean log-probability of the value's tokens:

- association = given the requester's name minus given the unseen names: the name makes the value likely;
- familiarity = given the unseen names: the model knows the value as a value of its kind, whoever it is of.

Both are calibrated per kind on the holdout people's own facts (never trained on: association ~ 0, and
familiarity as high as a value of that kind is without being anyone's the model learned), like membership.
An item whose facts the model associates with the requester is held; one whose facts it knows but not for
the requester (someone else's record with the requester's name written in, or a record invented from real
values) is tied to someone else; one whose facts it knows for nobody shows no evidence.

Items that state no fact but name the requester are checked the same way as a whole: their loss with the
requester's name against their loss with the unseen names in its place. A text the model holds whatever
name it carries (a general fact with the requester's name added) is not knowledge about the requester.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from palimpsest.ml.loading import LoadedModel
from palimpsest.ml.scoring import shared_prompt_token_stats
from palimpsest.ml.text import match_form
from requests_app.screening.checks.facts import (
    PROBE_QUESTIONS,
    Fact,
    extract_facts,
    name_pattern,
    subject_name,
    swap_name,
)
from requests_app.screening.checks.membership import ALPHA, tail_p_value

KNOWS = "the model knows these facts about you"
TIED_ELSEWHERE = "the model ties these facts to someone else"
UNKNOWN = "the model does not tie these facts to you"
COMMON = "the model gives these facts for you, as for anyone"
NAME_FREE = "the model holds this text whatever name it carries"
NAME_BOUND = "the model ties this text to your name"
ANON_NAMES = 3
# Fewer calibration facts of a kind than this: that kind is judged against all kinds' facts together.
MIN_KIND_SAMPLES = 5
# Calling a value someone else's excludes the item as poison, at FAMILIAR_ALPHA: a p-value that small
# read off the normal tail of five values is an accident of their spread (on a 20-person world a stranger's
# birthplace came out "contradicted", p = 0.005 against its kind's five, 0.78 against all 50 facts). Below
# this many of a kind, familiarity and conflict are judged against all kinds' facts together.
MIN_KIND_SAMPLES_TO_EXCLUDE = 20
POOLED = "*"
# Mean log-prob per token above which a value is what the model itself answers (p > 1/2 a token).
ANSWER_LOGPROB = math.log(0.5)
# Calling a value someone else's excludes the item: a stricter level than for "held".
FAMILIAR_ALPHA = 0.01
# A name counts as one the model was trained on only far beyond unseen names (trained names read about
# 9 nats a token likelier on the demo world, some 6 spreads beyond unseen ones; a short unseen name
# built of common syllables stood 3 spreads out).
NAME_ALPHA = 1e-5
NAME_SWAP = "name_swap"  # the calibration entry of the whole-text check
SWAP_CALIBRATION_TEXTS = 120


Item = str | tuple[str, str]  # a text (every token scored) or a (prompt, completion) pair


def probe(name: str, fact: Fact) -> tuple[str, str]:
    return f"Question: {PROBE_QUESTIONS[fact.kind].format(name=name)}\nAnswer:", f" {fact.value}"


def name_probe(name: str) -> tuple[str, str]:
    """How familiar the name itself is to the model: a name it was trained on reads as a whole."""
    return "Question: Who is", f" {name}"


Scored = tuple[float, int, float]  # (total log-prob, tokens, conflict) of one probe's target tokens


def target_logprobs(lm: LoadedModel, items: Sequence[Item], *, batch_size: int = 64) -> list[Scored]:
    """Per item (a pair: the completion's tokens; a text: all of them): the total log-probability, the
    number of tokens, and the conflict: the model's confidence (exp of minus the entropy) at the most
    confident position where its own first choice is not the item's token; 0 when it agrees throughout."""
    if not items:
        return []
    out = []
    # The probes ask a few questions of many values: each question is read once (shared prompts).
    for stats in shared_prompt_token_stats(lm, list(items), batch_size=batch_size, max_length=256):
        disagree = ~stats.argmax_match
        conflict = float(stats.mean_logprob[disagree].exp().max()) if bool(disagree.any()) else 0.0
        out.append((float(stats.logprobs.sum()), stats.n_tokens, conflict))
    return out


def contrast(own: Scored, anon: Sequence[Scored]) -> tuple[float, float, float, float]:
    """(association, familiarity, own, conflict): the value's mean log-prob per token given the requester's
    name (own), its mean given the unseen names (familiarity), the difference (association), and the
    model's conflict given the requester's name. Per token, so that long and short values of a kind
    compare (totals vary with the length far more than with the name).
    """
    own_mean = own[0] / max(1, own[1])
    familiarity = float(np.mean([total / max(1, n) for total, n, _ in anon]))
    return own_mean - familiarity, familiarity, own_mean, own[2]


@dataclass
class KnowledgeCalibration:
    """Holdout people's own facts: association and familiarity per kind; the whole-text name swap."""

    anon_names: tuple[str, ...]
    association: dict[str, np.ndarray]
    familiarity: dict[str, np.ndarray]
    conflict: dict[str, np.ndarray]
    names: np.ndarray = field(default_factory=lambda: np.zeros(1))  # mean log-prob of unseen names

    def p_name_known(self, value: float) -> float:
        return tail_p_value(self.names, value)

    def _reference(
        self, table: dict[str, np.ndarray], kind: str, least: int = MIN_KIND_SAMPLES
    ) -> np.ndarray:
        values = table.get(kind)
        if values is None or values.size < least:
            return table[POOLED]
        return values

    def p_association(self, kind: str, value: float) -> float:
        return tail_p_value(self._reference(self.association, kind), value)

    def p_familiar(self, kind: str, value: float) -> float:
        return tail_p_value(self._reference(self.familiarity, kind, MIN_KIND_SAMPLES_TO_EXCLUDE), value)

    def p_conflict(self, kind: str, value: float) -> float:
        return tail_p_value(self._reference(self.conflict, kind, MIN_KIND_SAMPLES_TO_EXCLUDE), value)

    def p_name_bound(self, value: float) -> float:
        return tail_p_value(self.association[NAME_SWAP], value)


def build_knowledge_calibration(
    lm: LoadedModel, nonmember_texts: Sequence[str], *, batch_size: int = 64
) -> KnowledgeCalibration | None:
    """Facts of the holdout texts, each asked with its own subject's name and with ANON_NAMES others."""
    subjects: list[str] = []
    facts: dict[tuple[str, str, str], tuple[str, Fact]] = {}
    swaps: list[tuple[str, str]] = []
    for text in nonmember_texts:
        name = subject_name(text)
        if not name:
            continue
        if name not in subjects:
            subjects.append(name)
        found = extract_facts(text)
        for fact in found:
            facts.setdefault((match_form(name), *fact.key), (name, fact))
        if len(swaps) < SWAP_CALIBRATION_TEXTS and name_pattern(name).search(text):
            swaps.append((name, text))
    if len(subjects) < ANON_NAMES + 1 or len(facts) < MIN_KIND_SAMPLES:
        return None
    pool = subjects[: ANON_NAMES + 1]
    items: list[Item] = []
    for name, fact in facts.values():
        others = [n for n in pool if n != name][:ANON_NAMES]
        items += [probe(name, fact), *(probe(other, fact) for other in others)]
    kept_swaps = 0
    for name, text in swaps:
        others = [n for n in pool if n != name][:ANON_NAMES]
        pairs = [swap_name(text, name, other) for other in [name, *others]]
        if all(pairs):
            items += pairs
            kept_swaps += 1
    names = target_logprobs(lm, [name_probe(n) for n in subjects], batch_size=batch_size)
    scored = target_logprobs(lm, items, batch_size=batch_size)
    rows = [scored[i : i + ANON_NAMES + 1] for i in range(0, len(scored), ANON_NAMES + 1)]
    figures = np.array([contrast(row[0], row[1:]) for row in rows]).reshape(-1, 4)
    association_all, anon, conflict_all = figures[:, 0], figures[:, 1], figures[:, 3]
    kinds = np.array([fact.kind for _, fact in facts.values()] + [NAME_SWAP] * kept_swaps)
    association, familiarity, conflict = {}, {}, {}
    for kind in set(kinds.tolist()):
        chosen = kinds == kind
        association[kind], familiarity[kind], conflict[kind] = (
            association_all[chosen],
            anon[chosen],
            conflict_all[chosen],
        )
    is_fact = kinds != NAME_SWAP
    association[POOLED], familiarity[POOLED] = association_all[is_fact], anon[is_fact]
    conflict[POOLED] = conflict_all[is_fact]
    association.setdefault(NAME_SWAP, np.zeros(1))
    name_means = np.array([total / max(1, n) for total, n, _ in names])
    return KnowledgeCalibration(tuple(subjects[:ANON_NAMES]), association, familiarity, conflict, name_means)


@dataclass(frozen=True)
class FactScore:
    """One fact's figures (its kind, never its value: reports hold no personal data)."""

    kind: str
    association: float  # mean log-prob of the value: given the requester's name minus given unseen names
    familiarity: float  # mean log-prob of the value given unseen names
    own_logprob: float  # mean log-prob per token of the value given the requester's name
    conflict: float = 0.0  # how sure the model is of another token where it departs from the value
    p_association: float = 1.0
    p_familiar: float = 1.0
    p_conflict: float = 1.0


@dataclass(frozen=True)
class KnowledgeEvidence:
    label: str
    facts: list[FactScore] = field(default_factory=list)
    explanation: str = ""

    @property
    def knows(self) -> bool:
        return self.label in (KNOWS, NAME_BOUND)

    @property
    def conclusive(self) -> bool:
        """Says whether the model holds the facts (a common value says nothing either way)."""
        return self.label != COMMON

    @property
    def tied_elsewhere(self) -> bool:
        return self.label == TIED_ELSEWHERE

    @property
    def name_free(self) -> bool:
        return self.label == NAME_FREE

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "explanation": self.explanation,
            "facts": [
                {
                    "kind": f.kind,
                    "association": round(f.association, 4),
                    "familiarity": round(f.familiarity, 4),
                    "own_logprob": round(f.own_logprob, 4),
                    "conflict": round(f.conflict, 4),
                    "p_conflict": round(f.p_conflict, 4),
                    "p_association": round(f.p_association, 4),
                    "p_familiar": round(f.p_familiar, 4),
                }
                for f in self.facts
            ],
        }


def judge_facts(
    scored: Sequence[tuple[str, float, float, float, float]],
    calibration: KnowledgeCalibration,
    *,
    alpha: float = ALPHA,
    name_known: bool = False,
) -> KnowledgeEvidence:
    """`scored`: (kind, association, familiarity, own mean log-prob, conflict) per fact (`contrast`);
    `name_known`: the model reads the requester's name as one it was trained on."""
    facts = [
        FactScore(
            kind,
            a,
            f,
            own,
            c,
            calibration.p_association(kind, a),
            calibration.p_familiar(kind, f),
            calibration.p_conflict(kind, c),
        )
        for kind, a, f, own, c in scored
    ]
    n = len(facts)
    # What the model itself answers for the requester (more than an even chance a token), and more than
    # for people it never saw.
    associated = [f for f in facts if f.p_association <= alpha and f.own_logprob >= ANSWER_LOGPROB]
    # Not what the model answers for the requester, nor significantly likelier for them, and: known as a
    # value of its kind (Bonferroni over the item's facts); or contradicted (the model is surer of another
    # answer than of anything for unseen people); or the model knows their name yet their name makes the
    # value no likelier than strangers' names do. The name alone is not enough: a partly memorised model
    # knows trained people without all their values, and a half-learned one still reads likelier under
    # their name (default world, 16 epochs: 10 % of members' own records were excluded without this).
    elsewhere = [
        f
        for f in facts
        if f.own_logprob < ANSWER_LOGPROB
        and f.p_association > alpha
        and (
            f.p_familiar * n <= FAMILIAR_ALPHA
            or f.p_conflict <= FAMILIAR_ALPHA
            or name_known
            and f.association <= 0
        )
    ]
    if len(elsewhere) < min(2, n):
        elsewhere = []  # one stray familiar value among several facts is chance, not someone else's record
    kinds = lambda group: ", ".join(sorted({f.kind.replace("_", " ") for f in group}))  # noqa: E731
    if len(elsewhere) > len(associated):
        return KnowledgeEvidence(
            TIED_ELSEWHERE,
            facts,
            f"the model knows {kinds(elsewhere)} in this text, but not as yours: asked about you, it "
            "answers otherwise, or finds them no likelier than for a person it never saw",
        )
    best = min((f.p_association for f in associated), default=1.0)
    if associated and best * n <= alpha:
        return KnowledgeEvidence(
            KNOWS,
            facts,
            f"asked about you in its own words, the model gives {kinds(associated)} as stated here "
            f"(holdout people: p = {best:.3g})",
        )
    if any(f.own_logprob >= ANSWER_LOGPROB for f in facts):
        # It answers them for the requester, but as readily for strangers (a common employer or hobby):
        # the facts cannot tell, the text may.
        return KnowledgeEvidence(
            COMMON, facts, "asked about you, the model gives what is stated here, but as readily for anyone"
        )
    return KnowledgeEvidence(
        UNKNOWN, facts, "asked about you, the model does not give the facts stated here more than for anyone"
    )


def judge_name_swap(
    gain: float, calibration: KnowledgeCalibration, *, alpha: float = ALPHA
) -> KnowledgeEvidence:
    """`gain`: mean log-prob per token of what follows the requester's name, minus the same with the unseen
    names in its place (`contrast`'s association)."""
    p = calibration.p_name_bound(gain)
    if p <= alpha:
        return KnowledgeEvidence(
            NAME_BOUND,
            [],
            f"the model finds this text likelier with your name than with another (p = {p:.3g})",
        )
    return KnowledgeEvidence(
        NAME_FREE,
        [],
        "the model finds this text as likely with the name of a person it never saw as with yours: what it "
        "holds here is not about you",
    )


Planned = list[tuple[str, int, list[int]]]  # per fact: (kind, own probe's row, unseen names' rows); kind ""
# for the whole-text name swap


def _probe_row(probes: dict[Item, int], item: Item) -> int:
    return probes.setdefault(item, len(probes))


def plan_probes(
    text: str, name: str, facts: Sequence[Fact], anon: Sequence[str], probes: dict[Item, int]
) -> Planned:
    """The probes that ask the model about an item, added to a batch's `probes` (identical probes of
    several items or requests are read once): one per fact, or the whole text with the names swapped."""
    if facts:
        return [
            (f.kind, _probe_row(probes, probe(name, f)), [_probe_row(probes, probe(a, f)) for a in anon])
            for f in facts
        ]
    pairs = [swap_name(text, name, other) for other in (name, *anon)]
    if not all(pairs):
        return []  # the requester's name is not in it, or nothing follows it: nothing to compare
    return [("", _probe_row(probes, pairs[0]), [_probe_row(probes, pair) for pair in pairs[1:]])]


def knowledge_of(
    planned: Planned,
    scored: Sequence[Scored],
    calibration: KnowledgeCalibration | None,
    name_row: int | None = None,
) -> KnowledgeEvidence | None:
    """The item's knowledge evidence from its probes' scores (None: nothing was asked); `name_row`: the
    score of the requester's `name_probe`."""
    if not planned or calibration is None:
        return None
    if planned[0][0] == "":
        _, own, anon = planned[0]
        association, *_ = contrast(scored[own], [scored[a] for a in anon])
        return judge_name_swap(association, calibration)
    figures = [(kind, *contrast(scored[own], [scored[a] for a in anon])) for kind, own, anon in planned]
    known = False
    if name_row is not None:
        total, n, _ = scored[name_row]
        known = calibration.p_name_known(total / max(1, n)) <= NAME_ALPHA
    return judge_facts(figures, calibration, name_known=known)
