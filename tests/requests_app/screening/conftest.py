"""Screening fixtures on the tiny demo world: a context built once, and records grouped by person."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from requests_app.screening.checks import Requester, build_context
from requests_app.screening.checks.utility import load_embedder


@dataclass(frozen=True)
class Person:
    person_id: str
    requester: Requester
    records: list[str]  # the bio and the question-answer texts of this person


def _texts(world, person_id: str, splits: tuple[str, ...]) -> list[str]:
    bio = [b["text"] for b in world.bios if b["person_id"] == person_id]
    qa = [
        q["prompt"] + q["completion"]
        for q in world.qa
        if q["person_id"] == person_id and q["split"] in splits
    ]
    return bio + qa


@dataclass(frozen=True)
class WorldView:
    members: list[Person]  # trained on
    holdout_test: list[Person]  # never trained on, and not used for calibration
    general: list[str]  # general facts and their evaluation questions: utility-critical
    train_records: list[tuple[str, str]]


@pytest.fixture(scope="package")
def world_view(tiny_world) -> WorldView:
    world = tiny_world.load_world()
    people = {p["person_id"]: p for p in world.people}

    def person(pid: str, splits) -> Person:
        p = people[pid]
        return Person(pid, Requester(p["name"], p["attributes"]["email"]), _texts(world, pid, splits))

    holdout = tiny_world.holdout_ids()
    return WorldView(
        members=[person(pid, ("train",)) for pid in tiny_world.member_ids()],
        holdout_test=[person(pid, ("holdout",)) for pid in holdout[len(holdout) // 2 :]],
        general=[g["text"] for g in world.general]
        + [q["prompt"] + q["completion"] for q in world.general_qa],
        train_records=[(r["record_id"], r["text"]) for r in world.train],
    )


@pytest.fixture(scope="package")
def calibration_texts(tiny_world) -> list[str]:
    """Non-member texts of the same kind: the first half of the holdout people."""
    world = tiny_world.load_world()
    holdout = tiny_world.holdout_ids()
    calibration_people = set(holdout[: len(holdout) // 2])
    return [t for pid in sorted(calibration_people) for t in _texts(world, pid, ("holdout",))]


@pytest.fixture(scope="package")
def screening_context(one_torch_thread, tiny_lm, world_view, calibration_texts):
    return build_context(
        tiny_lm,
        nonmember_texts=calibration_texts,
        utility_texts=world_view.general,
        retain_texts=world_view.general[::8][:16],
        embedder=load_embedder(),
        model_label="tiny",
    )
