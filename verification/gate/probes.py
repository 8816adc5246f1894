"""What the gate asks a candidate about: probes built from the FULL forget set of every request the
candidate's job carried (coreset or not), enriched from the demo world where the requester is one of
its people. Texts stay in memory; probes leave this module only as figures keyed by ids."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from requests_app.screening.checks.personal import KINDS
from requests_app.screening.references import nonmember_texts, utility_texts
from unlearn_jobs.engine import split_question
from unlearn_jobs.jobs.config import retain_corpus_path
from unlearn_jobs.jobs.inputs import load_corpus
from unlearn_jobs.jobs.models import JobItem, UnlearnJob
from unlearn_jobs.registry.models import ModelVersion
from verification.metrics import Probe, ProbeSet, prefix_probes
from verification.metrics.probes import relevant_protected, select_spread
from verification.metrics.world_probes import WorldRecords, demo_probe_set

MAX_HOLDOUT = 200
MAX_UTILITY_TEXTS = 64


@dataclass(frozen=True)
class GateProbes:
    probes: ProbeSet
    subjects: dict[str, str]  # probe subject id -> request id (as a string)
    counts: dict[str, int]


def protected_values(text: str) -> tuple[str, ...]:
    """The personal values a continuation must not give away: e-mails, phones, addresses, dates."""
    return tuple(
        dict.fromkeys(m.group(0).strip() for pattern in KINDS.values() for m in pattern.finditer(text))
    )


def item_probes(item_id: str, text: str, subject: str) -> tuple[list[Probe], list[Probe]]:
    """Prefix probes of any text; a question/answer text also asks its question."""
    protected = protected_values(text)
    verbatim = prefix_probes(item_id, text, protected=protected, subject_id=subject)
    questions = []
    pair = split_question(text)
    if pair is not None:
        prompt, answer = pair
        values = relevant_protected(prompt, protected)
        questions.append(
            Probe(f"{item_id}?", prompt, answer, kind="question", protected=values, subject_id=subject)
        )
    return verbatim, questions


def _world() -> WorldRecords | None:
    world_dir = Path(settings.PALIMPSEST_DEMO_ROOT) / "world"
    return WorldRecords.read(world_dir) if (world_dir / "people.jsonl").is_file() else None


def gate_probes(version: ModelVersion) -> GateProbes:
    return job_probes(version.produced_by)


@dataclass(frozen=True)
class ForgetText:
    """One text of a forget set as the gate probes it: whose request it belongs to, under what key."""

    key: str  # probe id prefix, e.g. "item:12"
    text: str
    request: str  # request id (as a string)
    requester_name: str


def job_probes(job: UnlearnJob) -> GateProbes:
    """Every probe of a job's forget set (all its items, trained or not)."""
    rows = list(
        JobItem.objects.filter(job=job).select_related("approved_item__item", "approved_item__request")
    )
    corpus = load_corpus(retain_corpus_path())
    texts, missing = [], 0
    for row in rows:
        approved = row.approved_item
        text = approved.item.text or corpus.by_sha256.get(approved.sha256, "")
        if not text:
            missing += 1  # erased and not in the corpus: nothing left to ask about
            continue
        texts.append(
            ForgetText(f"item:{approved.pk}", text, str(approved.request_id), approved.request.requester_name)
        )
    return forget_set_probes(texts, _world(), items=len(rows), items_without_text=missing)


def forget_set_probes(
    texts: list[ForgetText], world: WorldRecords | None, *, items: int, items_without_text: int = 0
) -> GateProbes:
    """The probes of a forget set: every text's own, and where a requester is a member of the demo world,
    what the world knows about them. The quality benchmark builds its forget sets through here too."""
    verbatim: list[Probe] = []
    questions: list[Probe] = []
    members: list = []
    subjects: dict[str, str] = {}
    names: dict[str, str] = {}
    for entry in texts:
        subject = f"request:{entry.request}"
        subjects[subject] = entry.request
        names[entry.requester_name] = entry.request
        item_verbatim, item_questions = item_probes(entry.key, entry.text, subject)
        verbatim += item_verbatim
        questions += item_questions
        members.append(entry.text)
    people = {p["name"]: p["person_id"] for p in world.people if p["group"] == "member"} if world else {}
    forgotten_people = {people[name]: request for name, request in names.items() if name in people}
    if forgotten_people:
        # The requesters are people of the demo world: ask what the world knows about them too
        # (held-out phrasings, truth ratios, their neighbours' facts, relearning, mixed prompts).
        demo = demo_probe_set(world, list(forgotten_people))
        subjects.update(forgotten_people)
        probes = replace(demo, verbatim=verbatim + demo.verbatim, questions=questions + demo.questions)
    else:
        general = select_spread(utility_texts(), MAX_UTILITY_TEXTS)
        probes = ProbeSet(
            verbatim=verbatim,
            questions=questions,
            forget_members=members,
            holdout_members=select_spread(nonmember_texts(), MAX_HOLDOUT),
            utility={
                "general": [
                    p
                    for i, t in enumerate(general)
                    for p in prefix_probes(f"general:{i}", t, fractions=(0.5,))
                ]
            },
        )
    counts = {
        "items": items,
        "items_without_text": items_without_text,
        "requests": len(set(subjects.values())),
        "demo_people": len(forgotten_people),
        "verbatim": len(probes.verbatim),
        "questions": len(probes.questions),
    }
    return GateProbes(probes=probes, subjects=subjects, counts=counts)
