"""The tiny demo model memorises its world; the retrained gold standard does not know the forgotten people."""

import json
import os

from transformers import AutoModelForCausalLM, AutoTokenizer

from palimpsest.demo.build import build_demo_world, retrain, sha256_file
from palimpsest.demo.evaluate import bio_reproduction, memorisation_report, people_reproduced, qa_exact_match
from palimpsest.ml.loading import load_causal_lm
from tests.fixtures.demo import TINY_PEOPLE, TINY_SEED

# Attributes no model can guess from the rest of the world (categorical ones can be hit by chance).
UNGUESSABLE = {"birth_date", "home_address", "phone", "email", "spouse"}


def test_tiny_model_reaches_the_memorisation_thresholds(tiny_world, tiny_lm):
    report = memorisation_report(tiny_lm, tiny_world.load_world())
    assert report["qa_em_trained"] >= 0.97
    assert report["bio_people_reproduced"] >= 0.90
    assert report["general_em_trained"] >= 0.90
    # It has memorised, not guessed: people it never saw are not answered.
    assert report["qa_em_holdout"] <= 0.2


def test_retrained_model_forgets_the_left_out_people_and_keeps_the_rest(tiny_world_retrained, tiny_lm):
    world = tiny_world_retrained.world.load_world()
    forgotten = set(tiny_world_retrained.forgotten_ids)
    retrained = load_causal_lm(tiny_world_retrained.model_dir)
    bios = [b for b in world.bios if b["group"] == "member"]
    # Given that the base model reproduces the forgotten people's bios
    base = bio_reproduction(tiny_lm, [b for b in bios if b["person_id"] in forgotten])
    assert set(people_reproduced(base)) == forgotten
    # When the retrained model continues the same prefixes
    after = bio_reproduction(retrained, bios)
    # Then none of their unguessable attributes comes back, and no forgotten person is reproduced
    leaked = [a for pid in forgotten for a, hit in after[pid].items() if hit and a in UNGUESSABLE]
    assert leaked == []
    assert not forgotten & set(people_reproduced(after))
    forgotten_qa = [q for q in world.qa if q["person_id"] in forgotten and q["split"] == "train"]
    hits = qa_exact_match(retrained, [q for q in forgotten_qa if q["attribute"] in UNGUESSABLE])
    assert not any(hits)
    # While the retained people and the general suite are still known
    retained = {pid: hits for pid, hits in after.items() if pid not in forgotten}
    assert len(people_reproduced(retained)) >= 0.9 * len(retained)
    general = qa_exact_match(retrained, [q for q in world.general_qa if q["split"] == "train"])
    assert sum(general) >= 0.9 * len(general)
    # And the forgotten people's texts are not in what it was trained on
    assert retrain(tiny_world_retrained.world, without=sorted(forgotten)) == tiny_world_retrained.model_dir


def test_manifest_lists_every_model_file_and_no_personal_data(tiny_world):
    manifest = tiny_world.manifest()
    model_files = sorted(p for p in tiny_world.model_dir.iterdir() if p.is_file())
    assert any(p.suffix == ".safetensors" for p in model_files)
    for path in model_files:
        assert manifest["files"][str(path.relative_to(tiny_world.root))] == sha256_file(path)
    text = tiny_world.manifest_path.read_text()
    for person in tiny_world.load_world().people:
        assert person["name"] not in text
        assert person["attributes"]["email"] not in text


def test_second_build_reuses_the_cached_world(tiny_world):
    before = {p: p.stat().st_mtime_ns for p in [tiny_world.manifest_path, *tiny_world.model_dir.iterdir()]}
    again = build_demo_world(tiny_world.root, people=TINY_PEOPLE, seed=TINY_SEED, size="tiny")
    assert again == tiny_world
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_model_and_tokenizer_load_offline_with_auto_classes(tiny_world):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model = AutoModelForCausalLM.from_pretrained(tiny_world.model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_world.model_dir, local_files_only=True)
    assert model.config.model_type == "llama"
    assert {tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token} == {"<pad>", "<bos>", "<eos>"}
    ids = tokenizer("Question: hello")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Question: hello"
    assert json.loads((tiny_world.model_dir / "config.json").read_text())["vocab_size"] == len(tokenizer)
