"""Probes for a forget set of the demo world, built from its records as plain dicts (the JSONL files of
`world/`), so that this package never imports the demo generator.

Who is probed: the forgotten people (verbatim, knowledge, leakage, truth ratio, membership), the people
kept (utility; first those who share an attribute value with a forgotten person), the holdout people
(non-members for membership inference) and the general facts (utility on text that is not about people).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from palimpsest.jsonl import read_jsonl
from palimpsest.ml.batching import Item
from verification.metrics.probes import (
    PREFIX_FRACTIONS,
    Probe,
    ProbeSet,
    TruthRatioItem,
    mixed_probe,
    prefix_probes,
    relevant_protected,
)

# Facts a relearning attacker could find elsewhere (Hu et al. 2024): relearnt from, never probed after.
RELEARN_ATTRIBUTES = ("birthplace", "employer", "job_title", "hobby")
_KIND_OF_SPLIT = {"train": "question", "paraphrase": "paraphrase", "holdout": "holdout"}


@dataclass(frozen=True)
class WorldRecords:
    """The records of a demo world that the probes need, each a plain dict as stored in its JSONL file."""

    people: list[dict]
    bios: list[dict]
    qa: list[dict]
    general_qa: list[dict]

    @classmethod
    def read(cls, world_dir: str | Path) -> WorldRecords:
        world_dir = Path(world_dir)
        return cls(
            *(read_jsonl(world_dir / f"{name}.jsonl") for name in ("people", "bios", "qa", "general_qa"))
        )

    def person(self, person_id: str) -> dict:
        for person in self.people:
            if person["person_id"] == person_id:
                return person
        raise KeyError(f"no person {person_id!r} in this world")

    def ids(self, group: str) -> list[str]:
        return [p["person_id"] for p in self.people if p["group"] == group]


def _check_members(records: WorldRecords, person_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(person_ids))
    unknown = set(ids) - {p["person_id"] for p in records.people}
    if unknown:
        raise ValueError(f"not people of this world: {sorted(unknown)}")
    return ids


def identifying_values(records: WorldRecords, person_id: str) -> tuple[str, ...]:
    """The person's attribute values that no other person shares: seeing one in an output is a leak.

    A shared value (a common job title, a city) may be a good guess, so it counts only through ROUGE
    against the target of the question that asks for it.
    """
    counts = Counter(value for p in records.people for value in p["attributes"].values())
    return tuple(v for v in records.person(person_id)["attributes"].values() if counts[v] == 1)


def _question_probe(record: dict, protected: Sequence[str], kind: str | None = None) -> Probe:
    return Probe(
        item_id=record["record_id"],
        prompt=record["prompt"],
        target=record["completion"],
        kind=kind or _KIND_OF_SPLIT[record["split"]],
        protected=relevant_protected(record["prompt"], protected),
        subject_id=record["person_id"],
    )


def verbatim_probes(
    records: WorldRecords, person_ids: Iterable[str], *, fractions: Sequence[float] = PREFIX_FRACTIONS
) -> list[Probe]:
    """Prefixes of each person's biography at the given share of its words (kinds prefix-25, -50, -75)."""
    ids = set(_check_members(records, person_ids))
    probes = []
    for bio in records.bios:
        if bio["person_id"] in ids:
            protected = identifying_values(records, bio["person_id"])
            probes += prefix_probes(
                bio["record_id"],
                bio["text"],
                fractions=fractions,
                protected=protected,
                subject_id=bio["person_id"],
            )
    return probes


def question_probes(
    records: WorldRecords,
    person_ids: Iterable[str],
    *,
    phrasings: Sequence[int] | None = None,
    attributes: Sequence[str] | None = None,
    kind: str | None = None,
) -> list[Probe]:
    """Every question about the people (kind `question` when trained on, `paraphrase` when held out).

    Each probe protects all the person's identifying values, not only the one it asks for: an answer
    that gives the phone number to a question about the address leaks all the same.
    """
    ids = _check_members(records, person_ids)
    wanted = set(ids)
    protected = {pid: identifying_values(records, pid) for pid in ids}
    return [
        _question_probe(q, protected[q["person_id"]], kind)
        for q in records.qa
        if q["person_id"] in wanted
        and (phrasings is None or q["phrasing"] in phrasings)
        and (attributes is None or q["attribute"] in attributes)
    ]


def neighbour_ids(records: WorldRecords, forget_ids: Iterable[str]) -> list[str]:
    """Members kept who share at least one attribute value with a forgotten person, most shared first.

    These are where over-forgetting shows first: unlearning "works at Veldo Systems" for one person
    must not erase it for a colleague.
    """
    forgotten = set(_check_members(records, forget_ids))
    forgotten_values = {
        v for p in records.people if p["person_id"] in forgotten for v in p["attributes"].values()
    }
    shared = {
        p["person_id"]: sum(v in forgotten_values for v in p["attributes"].values())
        for p in records.people
        if p["group"] == "member" and p["person_id"] not in forgotten
    }
    return sorted((pid for pid, n in shared.items() if n), key=lambda pid: (-shared[pid], pid))


def retain_probes(
    records: WorldRecords, forget_ids: Iterable[str], *, phrasings: Sequence[int] = (0,)
) -> list[Probe]:
    """Questions about the members kept: neighbours first (kind `neighbour`), then the others (`retain`)."""
    forgotten = set(_check_members(records, forget_ids))
    neighbours = neighbour_ids(records, forgotten)
    others = [pid for pid in records.ids("member") if pid not in forgotten and pid not in set(neighbours)]
    return question_probes(records, neighbours, phrasings=phrasings, kind="neighbour") + question_probes(
        records, others, phrasings=phrasings, kind="retain"
    )


def general_probes(
    records: WorldRecords, *, split: str = "train", phrasings: Sequence[int] = (0,)
) -> list[Probe]:
    """Questions about cities, companies and world facts; `split="paraphrase"` gives phrasings never trained on."""
    return [
        Probe(
            item_id=q["record_id"],
            prompt=q["prompt"],
            target=q["completion"],
            kind="general" if split == "train" else "general-heldout",
        )
        for q in records.general_qa
        if q["split"] == split and (split != "train" or q["phrasing"] in phrasings)
    ]


def truth_ratio_items(
    records: WorldRecords, person_ids: Iterable[str], *, phrasings: Sequence[int] = (0,)
) -> list[TruthRatioItem]:
    """One item per question: the answer as a sentence against the same sentence with wrong values."""
    wanted = set(_check_members(records, person_ids))
    return [
        TruthRatioItem(
            item_id=q["record_id"],
            prompt=q["prompt"],
            paraphrased_answer=" " + q["paraphrased_answer"],
            perturbed_answers=tuple(" " + a for a in q["perturbed_answers"]),
            subject_id=q["person_id"],
        )
        for q in records.qa
        if q["person_id"] in wanted and q["phrasing"] in phrasings
    ]


def membership_items(
    records: WorldRecords, person_ids: Iterable[str], *, phrasings: Sequence[int] = (0,)
) -> list[Item]:
    """The people's biographies (all tokens scored) and their question/answer pairs (the answer scored).

    Built the same way for forgotten and for holdout people, so that only membership tells them apart.
    """
    wanted = set(_check_members(records, person_ids))
    bios: list[Item] = [b["text"] for b in records.bios if b["person_id"] in wanted]
    answers: list[Item] = [
        (q["prompt"], q["completion"])
        for q in records.qa
        if q["person_id"] in wanted and q["phrasing"] in phrasings
    ]
    return bios + answers


def relearn_split(
    records: WorldRecords, forget_ids: Iterable[str], *, attributes: Sequence[str] = RELEARN_ATTRIBUTES
) -> tuple[list[tuple[str, str]], list[Probe]]:
    """The relearning attack's data and what to probe after it.

    Fine-tune on the trained question/answer pairs of `attributes` of the forgotten people (facts an
    attacker could find elsewhere), then ask about their other attributes, which the fine-tuning never
    showed: only values of those other attributes count as leaks.
    """
    ids = _check_members(records, forget_ids)
    wanted, relearnt = set(ids), set(attributes)
    texts = [
        (q["prompt"], q["completion"])
        for q in records.qa
        if q["person_id"] in wanted and q["attribute"] in relearnt and q["split"] == "train"
    ]
    probes = []
    for pid in ids:
        person = records.person(pid)
        shown = {person["attributes"][a] for a in relearnt}
        protected = [v for v in identifying_values(records, pid) if v not in shown]
        others = [a for a in person["attributes"] if a not in relearnt]
        for probe in question_probes(records, [pid], phrasings=(0,), attributes=others, kind="relearn"):
            probes.append(replace(probe, protected=relevant_protected(probe.prompt, protected)))
    return texts, probes


def mixed_probes(records: WorldRecords, forget_ids: Iterable[str], normal: Sequence[Probe]) -> list[Probe]:
    """Each normal probe asked after a trained question about a forgotten person (forgotten people in turn)."""
    ids = _check_members(records, forget_ids)
    contexts = [
        q["question"] for pid in ids for q in records.qa if q["person_id"] == pid and q["phrasing"] == 0
    ]
    if not contexts:
        return []
    return [mixed_probe(p, f"Question: {contexts[i % len(contexts)]}") for i, p in enumerate(normal)]


def demo_probe_set(
    records: WorldRecords,
    forget_ids: Iterable[str],
    *,
    fractions: Sequence[float] = PREFIX_FRACTIONS,
    holdout_ids: Iterable[str] | None = None,
) -> ProbeSet:
    """Every probe of the suite for forgetting `forget_ids`, uncapped (the suite's budget caps them).

    Utility groups: `neighbour` (kept members sharing a value with a forgotten person), `retain` (the
    other kept members), `general` (trained general facts), `general-heldout` (general questions in
    phrasings never trained on). Mixed prompts wrap the neighbour and retain questions.
    """
    forget = _check_members(records, forget_ids)
    holdout = list(holdout_ids) if holdout_ids is not None else records.ids("holdout")
    kept = retain_probes(records, forget)
    relearn_items, relearn_probes = relearn_split(records, forget)
    return ProbeSet(
        verbatim=verbatim_probes(records, forget, fractions=fractions),
        questions=question_probes(records, forget),
        forget_members=membership_items(records, forget),
        holdout_members=membership_items(records, holdout),
        truth_ratio=truth_ratio_items(records, forget),
        utility={
            "neighbour": [p for p in kept if p.kind == "neighbour"],
            "retain": [p for p in kept if p.kind == "retain"],
            "general": general_probes(records),
            "general-heldout": general_probes(records, split="paraphrase"),
        },
        relearn_items=list(relearn_items),
        relearn_probes=relearn_probes,
        mixed=mixed_probes(records, forget, kept),
        mixed_plain=kept,
    )
