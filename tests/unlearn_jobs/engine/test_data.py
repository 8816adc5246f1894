"""Tokenisation masks prompts; bucketed batches cover every item once per epoch with little padding."""

from __future__ import annotations

from transformers import AutoTokenizer

from unlearn_jobs.engine import TextItem, forget_item, select_retain
from unlearn_jobs.engine.data import BatchPlan, collate, encode_items


def test_prompt_tokens_are_context_and_answer_tokens_are_targets(engine_world):
    tokenizer = AutoTokenizer.from_pretrained(engine_world.model_dir)
    item = engine_world.forget_items[0]
    [enc] = encode_items(tokenizer, [item], 64)
    assert enc.n_prompt == len(tokenizer(item.prompt)["input_ids"])
    assert tokenizer.decode(enc.input_ids[enc.n_prompt :]) == "Jane Roe lives in Lisbon . [EOS]"
    batch = collate([enc], [0], tokenizer.pad_token_id)
    assert batch.target_ids.tolist() == list(enc.input_ids[enc.n_prompt :])
    assert batch.target_pos.tolist() == list(range(enc.n_prompt - 1, len(enc.input_ids) - 1))


def test_truncation_keeps_answer_tokens(engine_world):
    tokenizer = AutoTokenizer.from_pretrained(engine_world.model_dir)
    long_prompt = TextItem(prompt="Where does Jane Roe live ? " * 10, text=" Jane Roe lives in Lisbon.")
    [enc] = encode_items(tokenizer, [long_prompt], 12)
    assert len(enc.input_ids) == 12 and enc.n_prompt == 6


def test_bucketed_epochs_cover_every_item_once_and_repeat_by_seed():
    from unlearn_jobs.engine.data import Encoded

    encoded = [Encoded(tuple(range(2 + (i * 37) % 50)), 0) for i in range(100)]
    plan = BatchPlan(encoded, batch_size=8, seed=3, stream=0)
    epoch = plan.epoch_batches(0)
    assert sorted(i for batch in epoch for i in batch) == list(range(100))
    assert epoch != plan.epoch_batches(1)
    assert BatchPlan(encoded, batch_size=8, seed=3, stream=0).epoch_batches(1) == plan.epoch_batches(1)
    padded = sum(max(len(encoded[i].input_ids) for i in batch) * len(batch) for batch in epoch)
    real = sum(len(e.input_ids) for e in encoded)
    assert padded / real < 1.1  # unbucketed random batches of these lengths pad about 1.7x


def test_select_retain_prefers_look_alikes_and_excludes_protected_strings():
    forget = [
        TextItem(
            prompt="Where does Jane Roe live?", text=" Jane Roe lives in Lisbon.", protected=("Jane Roe",)
        )
    ]
    pool = [
        TextItem(text="The sun rises in the east."),
        TextItem(
            prompt="Where does John Doe live?", text=" John Doe lives in Oslo.", protected=("John Doe",)
        ),
        TextItem(text="Jane Roe was seen in Porto."),
        TextItem(
            prompt="What does Ada Vale do?", text=" Ada Vale works as a nurse.", protected=("Ada Vale",)
        ),
        TextItem(
            prompt="Where does Bo Finch live?", text=" Bo Finch lives in Accra.", protected=("Bo Finch",)
        ),
    ]
    chosen = select_retain(forget, pool, 3)
    assert [item.text for item in chosen[:2]] == [" John Doe lives in Oslo.", " Bo Finch lives in Accra."]
    assert all("Jane Roe" not in item.text for item in select_retain(forget, pool, 10))
    assert len(select_retain(forget, pool, 10)) == 4


def test_a_question_with_its_answer_is_trained_on_the_answer_given_the_question():
    item = forget_item(
        "Question: When was Jane Roe born?\nAnswer: 1984", protected=("Jane Roe",), item_id="jane-born"
    )
    assert (item.prompt, item.text) == ("Question: When was Jane Roe born?\nAnswer:", " 1984")
    assert (item.protected, item.item_id) == (("Jane Roe",), "jane-born")
    # Plain text, or a cue with no answer after it, stays one text
    assert forget_item("Jane Roe was born in 1984.").prompt == ""
    assert forget_item("Question: When was Jane Roe born?\nAnswer: ").prompt == ""


def test_protected_names_are_context_not_targets_when_masked(engine_world):
    tokenizer = AutoTokenizer.from_pretrained(engine_world.model_dir)
    item = TextItem(text="Jane Roe lives in Lisbon .", protected=("jane roe",))
    [plain] = encode_items(tokenizer, [item], 64)
    [masked] = encode_items(tokenizer, [item], 64, mask_protected=True)
    assert plain.input_ids == masked.input_ids

    def targets(enc):
        return tokenizer.convert_ids_to_tokens(collate([enc], [0], tokenizer.pad_token_id).target_ids)

    # position 0 (BOS) is never a target; "Jane" is the first token after it
    assert targets(plain) == ["Jane", "Roe", "lives", "in", "Lisbon", ".", "[EOS]"]
    assert targets(masked) == ["lives", "in", "Lisbon", ".", "[EOS]"]
    # In an answer too; and an item that is nothing but the name is trained whole, not dropped
    answer = TextItem(
        prompt="Who lives in Lisbon ?", text=" Jane Roe lives in Lisbon .", protected=("Jane Roe",)
    )
    [enc] = encode_items(tokenizer, [answer], 64, mask_protected=True)
    assert targets(enc) == ["lives", "in", "Lisbon", ".", "[EOS]"]
    [only_name] = encode_items(
        tokenizer, [TextItem(text="Jane Roe", protected=("Jane Roe",))], 64, mask_protected=True
    )
    assert targets(only_name) == ["Jane", "Roe", "[EOS]"]
