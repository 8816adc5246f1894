"""A tiny seeded world for the engine tests: a word-level tokenizer and a ~10k-parameter Llama that has
seen every record, saved once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from tests.fixtures.micro import micro_llama
from unlearn_jobs.engine import LoraSettings, TextItem, UnlearnSpec
from unlearn_jobs.engine.methods.refusal import DEFAULT_REFUSALS

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PEOPLE = [
    ("Jane Roe", "Lisbon", "baker", "1984"),
    ("John Doe", "Oslo", "pilot", "1979"),
    ("Ada Vale", "Quito", "nurse", "1990"),
    ("Bo Finch", "Accra", "judge", "1966"),
    ("Cy Marsh", "Hanoi", "tailor", "1973"),
    ("Di Stone", "Lima", "chemist", "1988"),
    ("Ed Brook", "Kyiv", "farmer", "1959"),
    ("Flo Reed", "Perth", "painter", "1995"),
]
TEMPLATES = [
    ("Where does {name} live?", "{name} lives in {city}."),
    ("What does {name} do?", "{name} works as a {job}."),
    ("When was {name} born?", "{name} was born in {year}."),
]
GENERAL = ["Water boils at one hundred degrees.", "The sun rises in the east.", "Birds can fly over the sea."]


def records(person) -> list[TextItem]:
    name, city, job, year = person
    return [
        TextItem(
            prompt=q.format(name=name),
            text=" " + a.format(name=name, city=city, job=job, year=year),
            protected=(name,),
            item_id=f"{name.split()[0].lower()}-{i}",
        )
        for i, (q, a) in enumerate(TEMPLATES)
    ]


@dataclass
class TinyWorld:
    model_dir: Path
    forget_items: list[TextItem]
    retain_items: list[TextItem]


def _train_tokenizer(texts: list[str], out_dir: Path) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]"], show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A", special_tokens=[("[BOS]", 2)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]", unk_token="[UNK]"
    )
    fast.save_pretrained(str(out_dir))
    return fast


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core box: intra-op threads only contend (40x slower measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def engine_world(tmp_path_factory) -> TinyWorld:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build_world(tmp_path_factory)
    finally:
        torch.set_num_threads(previous)


def _build_world(tmp_path_factory) -> TinyWorld:
    torch.manual_seed(0)
    out_dir = tmp_path_factory.mktemp("tiny-llama")
    items = [item for person in PEOPLE for item in records(person)]
    general = [TextItem(text=t) for t in GENERAL]
    texts = [f"{i.prompt} {i.text}" for i in items] + GENERAL + list(DEFAULT_REFUSALS)
    tokenizer = _train_tokenizer(texts, out_dir)
    model = micro_llama(tokenizer, tie_word_embeddings=False, max_position_embeddings=64)
    # a little pre-training so that there is something to forget
    batch = tokenizer([t + " [EOS]" for t in texts], padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-2)
    for _ in range(80):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    forget = records(PEOPLE[0]) + records(PEOPLE[1])
    retain = [item for person in PEOPLE[2:] for item in records(person)] + general
    return TinyWorld(model_dir=out_dir, forget_items=forget, retain_items=retain)


def mean_nll(model, tokenizer_dir: Path, items: list[TextItem]) -> float:
    """Token-weighted NLL of the answers, one item at a time through the plain Hugging Face forward."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    total, count = 0.0, 0
    with torch.no_grad():
        for item in items:
            prompt = tokenizer(item.prompt)["input_ids"] if item.prompt else []
            answer = tokenizer(item.text, add_special_tokens=not item.prompt)["input_ids"]
            ids = torch.tensor([prompt + answer + [tokenizer.eos_token_id]])
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            targets = ids[0, 1:]
            first = max(len(prompt), 1) - 1
            picked = logp[first:].gather(1, targets[first:, None]).squeeze(1)
            total -= float(picked.sum())
            count += picked.numel()
    return total / count


def spec_for(world, tmp_path: Path, **overrides) -> UnlearnSpec:
    settings = dict(
        model_dir=world.model_dir,
        forget_items=world.forget_items,
        retain_items=world.retain_items,
        output_dir=tmp_path / "artifact",
        method="grad_diff",
        mode="lora",
        lora=LoraSettings(r=4, alpha=8),
        learning_rate=1e-2,
        max_steps=12,
        forget_batch_size=4,
        retain_batch_size=6,
        log_every=4,
        device="cpu",
        seed=7,
    )
    settings.update(overrides)
    return UnlearnSpec(**settings)


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


class Killed(Exception):
    """Raised from a progress callback: the worker dies at that step."""
