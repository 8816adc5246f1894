"""ROUGE-L on words and on token lists."""

import pytest

from palimpsest.ml.text import lcs_length, rouge_l, rouge_l_f1, rouge_l_recall, words


def test_rouge_l_hand_examples():
    # "lives at 12 mill lane" vs "she lives at 14 mill lane": LCS = lives at mill lane (4)
    score = rouge_l("Lives at 12 Mill Lane.", "She lives at 14 Mill Lane")
    assert score.precision == pytest.approx(4 / 5)
    assert score.recall == pytest.approx(4 / 6)
    assert score.f1 == pytest.approx(2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6))
    assert rouge_l_recall("a b c", "a b c") == 1.0
    assert rouge_l_f1("x y", "a b") == 0.0
    assert rouge_l("", "a").recall == 0.0


def test_token_lists_and_words():
    assert lcs_length([1, 2, 3, 4], [2, 4, 9]) == 2
    assert rouge_l([1, 2, 3], [1, 3]).recall == 1.0
    assert words("E-mail: Ana's 0317!") == ["e", "mail", "ana", "s", "0317"]
