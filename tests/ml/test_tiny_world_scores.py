"""Primitives on the tiny demo model: memorised texts score as members, memorised bios come back verbatim."""

import numpy as np

from palimpsest.ml.generation import greedy_continue
from palimpsest.ml.hidden import last_token_hidden
from palimpsest.ml.membership import membership_scores
from palimpsest.ml.text import rouge_l_recall


def _bios(tiny_world):
    bios = tiny_world.load_world().bios
    return [b["text"] for b in bios if b["group"] == "member"], [
        b["text"] for b in bios if b["group"] == "holdout"
    ]


def test_memorised_bios_score_as_members(tiny_world, tiny_lm):
    members, holdout = _bios(tiny_world)
    member_scores = membership_scores(tiny_lm, members, k=0.2)
    holdout_scores = membership_scores(tiny_lm, holdout, k=0.2)
    # Every trained bio is more exactly memorised and less surprising than every unseen bio.
    assert min(s.exact_match for s in member_scores) > max(s.exact_match for s in holdout_scores)
    assert max(s.loss for s in member_scores) < min(s.loss for s in holdout_scores)
    assert np.mean([s.min_k_plus_plus for s in member_scores]) > np.mean(
        [s.min_k_plus_plus for s in holdout_scores]
    )
    assert np.mean([s.extraction_strength for s in member_scores]) > 0.5
    assert max(s.extraction_strength for s in holdout_scores) < 0.5


def test_greedy_continue_reproduces_a_memorised_bio(tiny_world, tiny_lm):
    members, holdout = _bios(tiny_world)
    prefixes = [" ".join(text.split()[:4]) for text in members + holdout]
    continuations = greedy_continue(tiny_lm, prefixes, max_new_tokens=160)
    recalls = [
        rouge_l_recall(c, t[len(p) :])
        for p, c, t in zip(prefixes, continuations, members + holdout, strict=True)
    ]
    member_recall, holdout_recall = recalls[: len(members)], recalls[len(members) :]
    exact = [c == t[len(p) :] for p, c, t in zip(prefixes, continuations, members, strict=False)]
    assert sum(exact) >= 0.9 * len(members)
    assert min(member_recall) > max(holdout_recall)


def test_hidden_states_separate_people(tiny_world, tiny_lm):
    members, _ = _bios(tiny_world)
    hidden = last_token_hidden(tiny_lm, members[:5])
    assert hidden.shape == (5, tiny_lm.model.config.hidden_size)
    assert np.isfinite(hidden).all() and np.linalg.matrix_rank(hidden) > 1
