"""Memorisation and utility measurements of a demo model: QA exact match and bio prefix reproduction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from palimpsest.ml.generation import greedy_continue
from palimpsest.ml.loading import LoadedModel

# A person counts as reproduced when at least this share of their attributes comes back from bio prefixes.
PERSON_REPRODUCED_SHARE = 0.9


def qa_exact_match(lm: LoadedModel, qa_records: Sequence[dict], *, batch_size: int = 64) -> list[bool]:
    """Greedy answer to each record's prompt, compared with its answer after stripping whitespace."""
    if not qa_records:
        return []
    longest = max(
        len(lm.tokenizer(r["completion"], add_special_tokens=False)["input_ids"]) for r in qa_records
    )
    answers = greedy_continue(
        lm, [r["prompt"] for r in qa_records], max_new_tokens=longest + 2, batch_size=batch_size
    )
    return [a.strip() == r["answer"] for a, r in zip(answers, qa_records, strict=True)]


@dataclass(frozen=True)
class BioProbe:
    person_id: str
    attribute: str
    prefix: str
    value: str


def bio_probes(bios: Sequence[dict]) -> list[BioProbe]:
    """One probe per attribute span: the bio up to (not including) the space before the value."""
    return [
        BioProbe(
            b["person_id"],
            s["attribute"],
            b["text"][: s["start"]].rstrip(" "),
            b["text"][s["start"] : s["end"]],
        )
        for b in bios
        for s in b["spans"]
    ]


def bio_reproduction(
    lm: LoadedModel, bios: Sequence[dict], *, batch_size: int = 64
) -> dict[str, dict[str, bool]]:
    """person_id -> attribute -> whether greedy continuation of the prefix starts with the true value."""
    probes = bio_probes(bios)
    if not probes:
        return {}
    longest = max(len(lm.tokenizer(" " + p.value, add_special_tokens=False)["input_ids"]) for p in probes)
    outputs = greedy_continue(
        lm, [p.prefix for p in probes], max_new_tokens=longest + 1, batch_size=batch_size
    )
    result: dict[str, dict[str, bool]] = {}
    for probe, out in zip(probes, outputs, strict=True):
        result.setdefault(probe.person_id, {})[probe.attribute] = out.lstrip().startswith(probe.value)
    return result


def people_reproduced(reproduction: dict[str, dict[str, bool]]) -> list[str]:
    return [
        pid for pid, hits in reproduction.items() if sum(hits.values()) >= PERSON_REPRODUCED_SHARE * len(hits)
    ]


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def memorisation_report(lm: LoadedModel, world, *, batch_size: int = 64) -> dict[str, float | None]:
    """Headline figures (rates in [0, 1]) for a GeneratedWorld; contains no personal data."""
    members = [b for b in world.bios if b["group"] == "member"]
    trained_people = {r["person_id"] for r in world.train if r["person_id"]}
    members = [b for b in members if b["person_id"] in trained_people]
    qa = [q for q in world.qa if q["person_id"] in trained_people]
    holdout_qa = [q for q in world.qa if q["group"] == "holdout" and q["phrasing"] == 0]
    reproduction = bio_reproduction(lm, members, batch_size=batch_size)
    attribute_hits = [hit for hits in reproduction.values() for hit in hits.values()]
    return {
        "qa_em_trained": _rate(
            qa_exact_match(lm, [q for q in qa if q["split"] == "train"], batch_size=batch_size)
        ),
        "qa_em_paraphrase": _rate(
            qa_exact_match(lm, [q for q in qa if q["split"] == "paraphrase"], batch_size=batch_size)
        ),
        "qa_em_holdout": _rate(qa_exact_match(lm, holdout_qa, batch_size=batch_size)),
        "bio_attributes_reproduced": _rate(attribute_hits),
        "bio_people_reproduced": round(len(people_reproduced(reproduction)) / len(reproduction), 4)
        if reproduction
        else None,
        "general_em_trained": _rate(
            qa_exact_match(lm, [q for q in world.general_qa if q["split"] == "train"], batch_size=batch_size)
        ),
        "general_em_paraphrase": _rate(
            qa_exact_match(
                lm, [q for q in world.general_qa if q["split"] == "paraphrase"], batch_size=batch_size
            )
        ),
    }
