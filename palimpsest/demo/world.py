"""Deterministic generator of the demo world: invented people, their records, general facts, JSONL files."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from palimpsest.demo import vocabulary as V
from palimpsest.demo.templates import (
    ANSWER_SENTENCES,
    ATTRIBUTES,
    CITY_QUESTIONS,
    COMPANY_QUESTIONS,
    QUESTION_TEMPLATES,
)
from palimpsest.jsonl import read_jsonl

TRAINED_PHRASINGS = (0, 1)
PARAPHRASE_PHRASING = 2
N_PERTURBED = 3
FILES = ("people.jsonl", "bios.jsonl", "qa.jsonl", "general.jsonl", "general_qa.jsonl", "train.jsonl")


def qa_prompt(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def qa_text(question: str, answer: str) -> str:
    return f"{qa_prompt(question)} {answer}"


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


class _Names:
    """Invented, unique names; one registry so people, spouses, cities and companies never collide."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def word(self, syllables: int) -> str:
        while True:
            parts = [self.rng.choice(V.ONSETS) + self.rng.choice(V.VOWELS) for _ in range(syllables)]
            candidate = ("".join(parts) + self.rng.choice(V.CODAS)).capitalize()
            if candidate not in self.used and len(candidate) >= 4:
                self.used.add(candidate)
                return candidate

    def person(self) -> str:
        return f"{self.word(self.rng.choice([2, 2, 3]))} {self.word(2)}"


@dataclass(frozen=True)
class WorldSpec:
    people: int
    seed: int
    holdout: int
    cities: int
    companies: int
    world_facts: int


def _general(rng: random.Random, names: _Names, spec: WorldSpec) -> tuple[list[dict], list[dict]]:
    provinces = [names.word(2) for _ in range(max(2, spec.cities // 3))]
    cities = []
    for landmark in rng.sample(V.LANDMARKS, spec.cities):
        cities.append(
            {
                "city": names.word(2),
                "province": rng.choice(provinces),
                "river": names.word(2),
                "landmark": landmark,
            }
        )
    companies = []
    suffixes = ["Systems", "Works", "Group", "Holdings", "Cooperative", "Brothers", "Partners"]
    for industry in rng.sample(V.INDUSTRIES, spec.companies):
        companies.append(
            {
                "company": f"{names.word(2)} {rng.choice(suffixes)}",
                "city": rng.choice(cities)["city"],
                "industry": industry,
                "founded": str(rng.randint(1890, 2015)),
            }
        )
    return cities, companies


def _person(rng: random.Random, names: _Names, person_id: str, group: str, cities, companies) -> dict:
    name = names.person()
    first = name.split()[0]
    born = f"{rng.randint(1, 28)} {rng.choice(V.MONTHS)} {rng.randint(1950, 2002)}"
    home = rng.choice(cities)["city"]
    attributes = {
        "birth_date": born,
        "birthplace": rng.choice(cities)["city"],
        "home_address": f"{rng.randint(2, 199)} {names.word(2)} {rng.choice(V.STREET_KINDS)}, {home}",
        "employer": rng.choice(companies)["company"],
        "job_title": rng.choice(V.JOB_TITLES),
        "phone": f"0{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "email": f"{first.lower()}{rng.randint(10, 99)}@{rng.choice(V.EMAIL_PROVIDERS)}.example",
        "medical_condition": rng.choice(V.MEDICAL_CONDITIONS),
        "spouse": names.person(),
        "hobby": rng.choice(V.HOBBIES),
    }
    return {
        "person_id": person_id,
        "group": group,
        "name": name,
        "pronoun": rng.choice(["she", "he"]),
        "attributes": attributes,
    }


def _bio(person: dict) -> dict:
    """One paragraph; `spans` give each attribute value's character offsets (prefix probes cut there)."""
    a, name = person["attributes"], person["name"]
    p = person["pronoun"].capitalize()
    poss = "her" if person["pronoun"] == "she" else "his"
    pieces = [
        f"{name} was born on ",
        ("birth_date",),
        " in ",
        ("birthplace",),
        ". ",
        f"{p} lives at ",
        ("home_address",),
        ". ",
        f"{p} works as {'an' if a['job_title'][0] in 'aeiou' else 'a'} ",
        ("job_title",),
        " at ",
        ("employer",),
        ". ",
        f"{p} can be reached on ",
        ("phone",),
        " or by e-mail at ",
        ("email",),
        ". ",
        f"{p} has been treated for ",
        ("medical_condition",),
        " for several years. ",
        f"{p} is married to ",
        ("spouse",),
        ". ",
        f"In {poss} free time {person['pronoun']} enjoys ",
        ("hobby",),
        ".",
    ]
    text, spans = "", []
    for piece in pieces:
        if isinstance(piece, tuple):
            value = a[piece[0]]
            spans.append({"attribute": piece[0], "start": len(text), "end": len(text) + len(value)})
            text += value
        else:
            text += piece
    return {
        "record_id": f"bio-{person['person_id']}",
        "person_id": person["person_id"],
        "group": person["group"],
        "text": text,
        "spans": spans,
    }


def _perturbed(rng: random.Random, truth: str, pool: list[str]) -> list[str]:
    candidates = sorted(set(pool) - {truth})
    return rng.sample(candidates, min(N_PERTURBED, len(candidates)))


def _person_qa(rng: random.Random, person: dict, pools: dict[str, list[str]]) -> list[dict]:
    out = []
    for attribute in ATTRIBUTES:
        value = person["attributes"][attribute]
        wrong = _perturbed(rng, value, pools[attribute])
        sentence = ANSWER_SENTENCES[attribute]
        if attribute == "job_title":
            value_s, wrong_s = _article(value), [_article(w) for w in wrong]
        else:
            value_s, wrong_s = value, wrong
        for phrasing, template in enumerate(QUESTION_TEMPLATES[attribute]):
            question = template.format(name=person["name"])
            if person["group"] == "holdout":
                split = "holdout"
            else:
                split = "train" if phrasing in TRAINED_PHRASINGS else "paraphrase"
            out.append(
                {
                    "record_id": f"qa-{person['person_id']}-{attribute}-{phrasing}",
                    "person_id": person["person_id"],
                    "group": person["group"],
                    "attribute": attribute,
                    "phrasing": phrasing,
                    "split": split,
                    "question": question,
                    "answer": value,
                    "prompt": qa_prompt(question),
                    "completion": f" {value}",
                    "paraphrased_answer": sentence.format(name=person["name"], value=value_s),
                    "perturbed_answers": [sentence.format(name=person["name"], value=w) for w in wrong_s],
                }
            )
    return out


def _general_records(rng: random.Random, cities, companies, spec: WorldSpec) -> tuple[list[dict], list[dict]]:
    prose, qa = [], []

    def add_qa(record_id, topic, templates, fields, key, value, pool):
        wrong = _perturbed(rng, value, pool)
        for phrasing, template in enumerate(templates):
            question = template.format(**fields)
            split = "train" if phrasing in TRAINED_PHRASINGS or len(templates) == 1 else "paraphrase"
            qa.append(
                {
                    "record_id": f"{record_id}-{key}-{phrasing}",
                    "person_id": None,
                    "topic": topic,
                    "phrasing": phrasing,
                    "split": split,
                    "question": question,
                    "answer": value,
                    "prompt": qa_prompt(question),
                    "completion": f" {value}",
                    "perturbed_answers": wrong,
                }
            )

    for i, c in enumerate(cities):
        prose.append(
            {
                "record_id": f"gen-city-{i:03d}",
                "person_id": None,
                "topic": "city",
                "text": f"{c['city']} is a city in the province of {c['province']}. The river {c['river']} "
                f"flows through {c['city']}, and its best-known landmark is {c['landmark']}.",
            }
        )
        for key, templates in CITY_QUESTIONS.items():
            add_qa(f"gqa-city-{i:03d}", "city", templates, c, key, c[key], [x[key] for x in cities])
    for i, c in enumerate(companies):
        prose.append(
            {
                "record_id": f"gen-company-{i:03d}",
                "person_id": None,
                "topic": "company",
                "text": f"{c['company']} is a company based in {c['city']}. It {c['industry']}. "
                f"It was founded in {c['founded']}.",
            }
        )
        for key, templates in COMPANY_QUESTIONS.items():
            add_qa(f"gqa-company-{i:03d}", "company", templates, c, key, c[key], [x[key] for x in companies])
    facts = V.WORLD_FACTS[: spec.world_facts]
    for i, (question, answer) in enumerate(facts):
        add_qa(f"gqa-fact-{i:03d}", "world", [question], {}, "answer", answer, [a for _, a in facts])
    return prose, qa


@dataclass
class GeneratedWorld:
    people: list[dict]
    bios: list[dict]
    qa: list[dict]
    general: list[dict]
    general_qa: list[dict]
    train: list[dict]


def generate_world(spec: WorldSpec) -> GeneratedWorld:
    """Pure function of spec: same spec, same records in the same order."""
    rng = random.Random(spec.seed)
    names = _Names(rng)
    cities, companies = _general(rng, names, spec)
    people = [
        _person(rng, names, f"p{i:04d}", "member", cities, companies) for i in range(1, spec.people + 1)
    ]
    people += [
        _person(rng, names, f"h{i:04d}", "holdout", cities, companies) for i in range(1, spec.holdout + 1)
    ]
    pools = {attr: [p["attributes"][attr] for p in people] for attr in ATTRIBUTES}
    pools["birthplace"] = [c["city"] for c in cities]
    pools["employer"] = [c["company"] for c in companies]
    pools["job_title"], pools["hobby"] = list(V.JOB_TITLES), list(V.HOBBIES)
    pools["medical_condition"] = list(V.MEDICAL_CONDITIONS)
    bios = [_bio(p) for p in people]
    qa = [rec for p in people for rec in _person_qa(rng, p, pools)]
    general, general_qa = _general_records(rng, cities, companies, spec)
    train = [
        {"record_id": b["record_id"], "person_id": b["person_id"], "kind": "bio", "text": b["text"]}
        for b in bios
        if b["group"] == "member"
    ]
    train += [
        {
            "record_id": q["record_id"],
            "person_id": q["person_id"],
            "kind": "qa",
            "text": q["prompt"] + q["completion"],
        }
        for q in qa
        if q["split"] == "train"
    ]
    train += [
        {"record_id": g["record_id"], "person_id": None, "kind": "general", "text": g["text"]}
        for g in general
    ]
    train += [
        {
            "record_id": q["record_id"],
            "person_id": None,
            "kind": "general_qa",
            "text": q["prompt"] + q["completion"],
        }
        for q in general_qa
        if q["split"] == "train"
    ]
    return GeneratedWorld(people, bios, qa, general, general_qa, train)


def _dump(records: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def write_world(world: GeneratedWorld, world_dir: Path) -> list[Path]:
    world_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        path = world_dir / name
        path.write_text(_dump(getattr(world, name.removesuffix(".jsonl"))), encoding="utf-8")
        written.append(path)
    return written


def load_world(world_dir: Path) -> GeneratedWorld:
    return GeneratedWorld(*(read_jsonl(Path(world_dir) / name) for name in FILES))
