"""A tiny seeded Llama (a few thousand parameters) with a small BPE tokenizer, built in the test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from palimpsest.demo.tokenizer import train_tokenizer
from palimpsest.ml.loading import LoadedModel, load_causal_lm
from tests.fixtures.micro import micro_llama

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a small model reads a short text",
    "Question: Where does Vora Klen live?\nAnswer: 12 Mill Lane",
    "numbers like 0317 4829 and names like Zhaeth Quor",
] * 5


@pytest.fixture(scope="session")
def micro_lm_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("micro-lm")
    tokenizer = train_tokenizer(CORPUS, out, vocab_size=300)
    micro_llama(tokenizer).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def micro_lm(micro_lm_dir: Path) -> LoadedModel:
    return load_causal_lm(micro_lm_dir)
