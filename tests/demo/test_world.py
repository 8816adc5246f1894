"""The world generator: deterministic, every record tied to a person, holdout people never trained on."""

import json

import pytest

from palimpsest.demo.sizes import size_spec
from palimpsest.demo.world import (
    ATTRIBUTES,
    FILES,
    PARAPHRASE_PHRASING,
    generate_world,
    load_world,
    write_world,
)


def _spec(seed=5, people=12):
    return size_spec("tiny").world_spec(people=people, seed=seed)


def test_same_seed_gives_identical_files(tmp_path):
    # Given the same spec generated twice into two folders
    write_world(generate_world(_spec()), tmp_path / "a")
    write_world(generate_world(_spec()), tmp_path / "b")
    write_world(generate_world(_spec(seed=6)), tmp_path / "c")
    # Then every file is byte for byte identical, and another seed changes them
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "people.jsonl").read_bytes() != (tmp_path / "c" / "people.jsonl").read_bytes()


def test_people_records_and_schema(tmp_path):
    write_world(generate_world(_spec()), tmp_path)
    world = load_world(tmp_path)
    members = [p for p in world.people if p["group"] == "member"]
    holdout = [p for p in world.people if p["group"] == "holdout"]
    assert len(members) == 12 and len(holdout) == 6
    assert len({p["name"] for p in world.people}) == len(world.people)
    for person in world.people:
        assert set(person["attributes"]) == set(ATTRIBUTES)
    # Every person-level record names its person; general records name nobody.
    ids = {p["person_id"] for p in world.people}
    assert all(r["person_id"] in ids for r in world.bios + world.qa)
    assert all(r["person_id"] is None for r in world.general + world.general_qa)
    assert all(r["person_id"] is None or r["person_id"] in ids for r in world.train)
    for line in (tmp_path / "qa.jsonl").read_text().splitlines():
        assert "person_id" in json.loads(line)


def test_bio_spans_and_qa_answers_point_at_the_attribute_values():
    world = generate_world(_spec())
    people = {p["person_id"]: p for p in world.people}
    for bio in world.bios:
        assert sorted(s["attribute"] for s in bio["spans"]) == sorted(ATTRIBUTES)
        for span in bio["spans"]:
            value = people[bio["person_id"]]["attributes"][span["attribute"]]
            assert bio["text"][span["start"] : span["end"]] == value
            assert bio["text"][span["start"] - 1] == " "
    for qa in world.qa:
        truth = people[qa["person_id"]]["attributes"][qa["attribute"]]
        assert qa["answer"] == truth and qa["completion"] == " " + truth
        assert truth in qa["paraphrased_answer"]
        assert len(qa["perturbed_answers"]) == 3
        assert all(
            truth not in wrong.removeprefix(people[qa["person_id"]]["name"])
            for wrong in qa["perturbed_answers"]
        )
    for qa in world.general_qa:
        assert qa["answer"] not in qa["perturbed_answers"] and qa["perturbed_answers"]


def test_paraphrases_and_holdout_people_are_never_trained_on():
    world = generate_world(size_spec("default").world_spec(people=40, seed=1))
    train_text = "\n".join(r["text"] for r in world.train)
    holdout = [p for p in world.people if p["group"] == "holdout"]
    assert holdout
    for person in holdout:
        assert person["name"] not in train_text
        assert person["attributes"]["phone"] not in train_text
        assert person["attributes"]["email"] not in train_text
    train_ids = {r["record_id"] for r in world.train}
    assert not {r["person_id"] for r in world.train} & {p["person_id"] for p in holdout}
    paraphrases = [q for q in world.qa if q["split"] == "paraphrase"]
    assert paraphrases and all(q["phrasing"] == PARAPHRASE_PHRASING for q in paraphrases)
    assert not train_ids & {q["record_id"] for q in paraphrases}
    assert all(q["prompt"] not in train_text for q in paraphrases)
    trained_qa = [q for q in world.qa if q["split"] == "train"]
    assert {q["record_id"] for q in trained_qa} <= train_ids


def test_unknown_size_and_too_few_people_are_refused():
    with pytest.raises(ValueError):
        size_spec("huge")
    with pytest.raises(ValueError):
        size_spec("tiny").world_spec(people=1, seed=0)
