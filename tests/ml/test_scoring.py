"""Per-token log-probs, NLL and membership scores on a tiny seeded model: batching must not change them."""

import pytest
import torch

from palimpsest.ml.batching import IGNORE_INDEX, collate, encode_pairs, encode_texts
from palimpsest.ml.membership import membership_scores
from palimpsest.ml.scoring import (
    sequence_nll,
    shared_prompt_token_stats,
    token_logprobs,
    token_statistics,
)

TEXTS = ["the quick brown fox", "a small model reads a short text about Zhaeth Quor", "hi"]


def _manual_logprobs(lm, ids):
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits[:-1], -1).gather(-1, torch.tensor(ids[1:])[:, None]).squeeze(-1)


def test_batched_logprobs_equal_unbatched_forward(micro_lm):
    # Given texts of different lengths, scored together in one padded batch
    batched = token_logprobs(micro_lm, TEXTS, batch_size=3)
    # Then each equals a forward pass over that text alone, without padding
    for text, got in zip(TEXTS, batched, strict=True):
        ids = micro_lm.tokenizer(text)["input_ids"]
        assert got.shape == (len(ids) - 1,)
        torch.testing.assert_close(got, _manual_logprobs(micro_lm, ids), rtol=1e-4, atol=1e-5)


def test_pairs_score_only_answer_tokens(micro_lm):
    prompt, answer = "Question: Where does Vora Klen live?\nAnswer:", " 12 Mill Lane"
    [item] = encode_pairs(micro_lm.tokenizer, [(prompt, answer)])
    n_answer = len(micro_lm.tokenizer(answer, add_special_tokens=False)["input_ids"])
    assert item.labels.count(IGNORE_INDEX) == len(item.input_ids) - n_answer
    [got] = token_logprobs(micro_lm, [(prompt, answer)])
    torch.testing.assert_close(
        got, _manual_logprobs(micro_lm, item.input_ids)[-n_answer:], rtol=1e-4, atol=1e-5
    )


def test_sequence_nll_matches_the_model_loss(micro_lm):
    items = encode_texts(micro_lm.tokenizer, TEXTS[:1])
    batch = collate(items, pad_id=micro_lm.pad_id)
    with torch.no_grad():
        loss = micro_lm.model(input_ids=batch.input_ids, labels=batch.labels).loss
    assert sequence_nll(micro_lm, TEXTS[:1])[0] == pytest.approx(float(loss), rel=1e-5)


def test_max_length_bounds_texts_and_keeps_answers(micro_lm):
    long_text = " ".join(["word"] * 200)
    [stats] = token_statistics(micro_lm, [long_text], max_length=16)
    assert stats.n_tokens == 15
    [pair] = encode_pairs(micro_lm.tokenizer, [(long_text, " the answer")], max_length=16)
    assert len(pair.input_ids) == 16
    n_answer = len(micro_lm.tokenizer(" the answer", add_special_tokens=False)["input_ids"])
    assert micro_lm.tokenizer.decode(pair.input_ids[-n_answer:]) == " the answer"
    assert pair.labels[-n_answer - 1] == IGNORE_INDEX


def test_membership_scores_one_per_item_from_one_pass(micro_lm):
    scores = membership_scores(micro_lm, TEXTS + [("Question: hi\nAnswer:", " hello")], k=0.2, batch_size=2)
    assert len(scores) == 4
    nll = sequence_nll(micro_lm, TEXTS)
    for s, expected in zip(scores[:3], nll, strict=False):
        assert s.loss == pytest.approx(expected, rel=1e-5)
        assert 0.0 <= s.exact_match <= 1.0 and 0.0 <= s.extraction_strength <= 1.0
        assert s.min_k <= -s.loss + 1e-6  # the lowest log-probs are at most their mean
    assert scores[3].n_tokens == len(micro_lm.tokenizer(" hello", add_special_tokens=False)["input_ids"])


def test_shared_prompts_give_the_statistics_of_whole_sequences(micro_lm):
    # Given answers to a few prompts, a prompt asked of several answers, texts, and empty answers
    questions = ["Question: Where does Vora Klen live?\nAnswer:", "Question: hi\nAnswer:"]
    answers = [" 12 Mill Lane", " the quick brown fox", " hi", ""]
    items = [(q, a) for q in questions for a in answers] + TEXTS + [("", " a")]
    # When each prompt is read once and its answers after its cached keys and values
    shared = shared_prompt_token_stats(micro_lm, items, batch_size=3)
    # Then every figure is what one pass over the whole sequence gives
    whole = token_statistics(micro_lm, items, batch_size=3)
    for got, want in zip(shared, whole, strict=True):
        assert torch.equal(got.target_ids, want.target_ids)
        torch.testing.assert_close(got.logprobs, want.logprobs, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got.mean_logprob, want.mean_logprob, rtol=1e-4, atol=1e-5)
        # E[(log p)^2] - mu^2 cancels: rounding differences of 1e-6 come out as 1e-4 here
        torch.testing.assert_close(got.std_logprob, want.std_logprob, rtol=1e-3, atol=1e-3)
        assert torch.equal(got.argmax_match, want.argmax_match)
    n_answer = len(micro_lm.tokenizer(answers[0], add_special_tokens=False)["input_ids"])
    assert shared[0].n_tokens == n_answer and shared[3].n_tokens == 0
