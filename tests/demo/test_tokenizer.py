"""The demo tokenizer: deterministic, lossless on any text, special tokens in place."""

import pytest

from palimpsest.demo.build import retrain
from palimpsest.demo.sizes import size_spec
from palimpsest.demo.tokenizer import train_tokenizer
from palimpsest.demo.world import generate_world


def test_same_texts_give_the_same_tokenizer_and_any_text_round_trips(tmp_path):
    world = generate_world(size_spec("tiny").world_spec(people=10, seed=3))
    texts = [r["text"] for r in world.train]
    first = train_tokenizer(texts, tmp_path / "a", vocab_size=600)
    train_tokenizer(texts, tmp_path / "b", vocab_size=600)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()
    for text in ["Zoë Ångström, 12 rue de l'Été — ☎ 0317 4829", world.bios[-1]["text"]]:
        ids = first(text)["input_ids"]
        assert ids[0] == first.bos_token_id
        assert first.decode(ids, skip_special_tokens=True) == text
    assert [first.pad_token_id, first.bos_token_id, first.eos_token_id] == [0, 1, 2]


def test_retrain_refuses_people_who_are_not_members(tiny_world):
    with pytest.raises(ValueError):
        retrain(tiny_world, without=[tiny_world.holdout_ids()[0]])
