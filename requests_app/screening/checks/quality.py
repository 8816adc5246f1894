"""Text quality: Gopher-style rules relaxed for short personal records, and a stopword language guess."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from palimpsest.ml.text import words as word_tokens

_TOKEN = re.compile(r"\S+")
_ALPHA = re.compile(r"[^\W\d_]", re.UNICODE)
# Phone numbers, dates, house numbers and postcodes are meaningful in a personal record.
_NUMBER_LIKE = re.compile(r"^[(+]?\d[\d.,:/()+-]*[.,;:)]?$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

MIN_WORDS = 3
MIN_MEANINGFUL_SHARE = 0.8
MEAN_WORD_LENGTH = (3.0, 10.0)
MAX_DUPLICATE_LINE_SHARE = 0.3
# Gopher: share of characters covered by the most frequent 2-, 3-, 4-gram of words.
MAX_TOP_NGRAM_SHARE = {2: 0.20, 3: 0.18, 4: 0.16}
# Records are short: the repetition rules only start to mean something past a few lines / words.
MIN_LINES_FOR_DUPLICATES = 3
MIN_WORDS_FOR_NGRAMS = 24

STOPWORDS = {
    "en": set(
        "the of and to a in is was are for on with at by from as that this it he she his her they their "
        "be has have had not or an which who what when where how".split()
    ),
    "de": set(
        "der die das und ist war zu den von mit sich des auf für nicht ein eine im dem wohnt geboren".split()
    ),
    "fr": set(
        "le la les et est était de des du un une en dans pour sur avec au aux qui il elle né née".split()
    ),
    "es": set("el la los las y es era de del un una en con por para que se su nació vive".split()),
    "it": set("il lo la gli le e è era di del della un una in con per che si nato nata vive".split()),
    "nl": set("de het een en is was van in op met voor dat die niet zijn hij zij geboren woont".split()),
}
MIN_STOPWORD_SHARE = 0.05
# Fewer lower-case words than this say too little to guess a language from (a name and a phone number).
MIN_WORDS_FOR_LANGUAGE = 8
_EMAIL_OR_URL = re.compile(r"@|://|^www\.")
# Letters of these scripts that look like Latin ones: a word mixing them with Latin letters hides itself
# from matching (the guard, duplicates, the requester's name) while reading the same to a person.
_LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK")


def hidden_characters(text: str) -> tuple[int, int]:
    """(invisible format characters such as zero-width spaces, words mixing Latin and look-alike letters)."""
    if text.isascii():
        return 0, 0  # both are characters outside ASCII; most items have none, and naming letters is slow
    # A soft hyphen and a leading byte-order mark come with ordinary copy and paste.
    invisible = sum(1 for ch in text.lstrip("\ufeff") if unicodedata.category(ch) == "Cf" and ch != "\u00ad")
    mixed = 0
    for token in _TOKEN.findall(text):
        letters = [unicodedata.name(ch, "") for ch in token if ch.isalpha()]
        latin = any(n.startswith("LATIN") for n in letters)
        if latin and any(n.startswith(_LOOKALIKE_SCRIPTS) for n in letters):
            mixed += 1
    return invisible, mixed


@dataclass(frozen=True)
class QualityResult:
    passed: bool
    language: str  # ISO 639-1 guess, or "unknown"
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)


def guess_language(text: str) -> tuple[str, float]:
    """The language whose stopwords cover the largest share of the words, with that share."""
    words = word_tokens(text)
    if not words:
        return "unknown", 0.0
    counts = Counter(words)
    best, best_share = "unknown", 0.0
    for language, stops in STOPWORDS.items():
        share = sum(counts[w] for w in stops) / len(words)
        if share > best_share:
            best, best_share = language, share
    if best_share < MIN_STOPWORD_SHARE:
        return "unknown", best_share
    return best, best_share


def _top_ngram_share(words: list[str], n: int, total_chars: int) -> float:
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    return count * sum(len(w) for w in gram) / max(1, total_chars)


def assess_quality(text: str, *, name: str = "") -> QualityResult:
    """`name`: the requester's; a record names its subject again and again, which is not repetition."""
    tokens = _TOKEN.findall(text)
    reasons: list[str] = []
    figures: dict[str, float] = {"words": float(len(tokens))}
    invisible, mixed = hidden_characters(text)
    if invisible or mixed:
        figures["invisible_characters"], figures["mixed_script_words"] = float(invisible), float(mixed)
        reasons.append(
            f"hidden characters: {invisible} invisible, {mixed} word(s) mixing Latin with look-alike letters"
        )
    language, stop_share = guess_language(text)
    figures["stopword_share"] = round(stop_share, 3)
    if len(tokens) < MIN_WORDS:
        reasons.append(f"too short to be a record ({len(tokens)} words)")
        return QualityResult(False, language, reasons, figures)
    meaningful = sum(1 for t in tokens if _ALPHA.search(t) or _NUMBER_LIKE.match(t))
    share = meaningful / len(tokens)
    figures["meaningful_word_share"] = round(share, 3)
    if share < MIN_MEANINGFUL_SHARE:
        reasons.append(f"only {share:.0%} of the words contain letters or numbers")
    # E-mail addresses and links are long by nature: they say nothing about whether words are words.
    plain = [t for t in tokens if not _EMAIL_OR_URL.search(t)] or tokens
    mean_len = sum(len(t.strip(".,;:!?\"'()")) for t in plain) / len(plain)
    figures["mean_word_length"] = round(mean_len, 2)
    if not MEAN_WORD_LENGTH[0] <= mean_len <= MEAN_WORD_LENGTH[1]:
        reasons.append(f"mean word length {mean_len:.1f} is outside {MEAN_WORD_LENGTH[0]:.0f}-10")
    segments = [s.strip().lower() for s in _SENTENCE.split(text) if s.strip()]
    if len(segments) >= MIN_LINES_FOR_DUPLICATES:
        duplicate_share = 1 - len(set(segments)) / len(segments)
        figures["duplicate_line_share"] = round(duplicate_share, 3)
        if duplicate_share > MAX_DUPLICATE_LINE_SHARE:
            reasons.append(f"{duplicate_share:.0%} of the sentences or lines are repeats")
    name_words = set(word_tokens(name))
    words = [w for w in word_tokens(text) if w not in name_words]
    if len(words) >= MIN_WORDS_FOR_NGRAMS:
        total_chars = sum(len(w) for w in words)
        for n, limit in MAX_TOP_NGRAM_SHARE.items():
            top = _top_ngram_share(words, n, total_chars)
            figures[f"top_{n}gram_share"] = round(top, 3)
            if top > limit:
                reasons.append(f"one {n}-word phrase makes up {top:.0%} of the text")
                break
    lower_words = sum(1 for t in tokens if t[:1].islower())
    if language == "unknown" and lower_words >= MIN_WORDS_FOR_LANGUAGE:
        reasons.append("does not read as text in a known language")
    return QualityResult(not reasons, language, reasons, figures)
