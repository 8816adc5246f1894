"""The one text primitive: what a word is, the two normal forms of a text, and ROUGE-L over words.

Intake, screening, the guard and verification all split and normalise text here, so that a word means
the same thing at every stage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (punctuation dropped): the unit of ROUGE-L, shingles and word statistics."""
    return WORD.findall(text.lower())


def clean_text(text: str) -> str:
    """The stored form of a submitted text: NFC, Unix newlines, no stray control characters, trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Control characters other than tab and newline carry no meaning in a text and can hide content.
    text = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")
    return text.strip()


def match_form(text: str) -> str:
    """The form two texts are matched in (names, phrases, n-grams): case-, accent- and
    whitespace-insensitive, punctuation dropped, words joined by one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(words(plain))


def lcs_length(a: Sequence, b: Sequence) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class RougeL:
    precision: float
    recall: float
    f1: float


def rouge_l(prediction: str | Sequence[str], reference: str | Sequence[str]) -> RougeL:
    """Strings are split with `words`; token lists are compared as given."""
    pred = words(prediction) if isinstance(prediction, str) else list(prediction)
    ref = words(reference) if isinstance(reference, str) else list(reference)
    lcs = lcs_length(pred, ref)
    precision = lcs / len(pred) if pred else 0.0
    recall = lcs / len(ref) if ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if lcs else 0.0
    return RougeL(precision=precision, recall=recall, f1=f1)


def rouge_l_recall(prediction: str | Sequence[str], reference: str | Sequence[str]) -> float:
    return rouge_l(prediction, reference).recall


def rouge_l_f1(prediction: str | Sequence[str], reference: str | Sequence[str]) -> float:
    return rouge_l(prediction, reference).f1
