"""Properties of text normalisation and splitting, over texts hypothesis makes up (any Unicode: control,
zero-width and right-to-left characters, lone line breaks, very long words)."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from palimpsest.ml.text import clean_text
from requests_app.intake.parsing import split_paragraphs

HOSTILE_CHARS = st.sampled_from(
    ["\u200b", "\u200f", "\u202e", "\ufeff", "\r", "\r\n", "\x00", "\x1b", "\n\n", " "]
)
TEXTS = st.lists(st.one_of(st.text(max_size=40), HOSTILE_CHARS), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_clean_text_is_idempotent_and_leaves_no_control_character(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert "\r" not in cleaned and cleaned == cleaned.strip()
    assert all(ch in "\t\n" or unicodedata.category(ch) != "Cc" for ch in cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=5, max_value=80))
def test_splitting_keeps_every_character_once_in_bounded_items_that_point_at_their_source(text, max_chars):
    text = clean_text(text)
    items = split_paragraphs(text, source="pasted", source_name="", max_chars=max_chars)
    for item in items:
        # Each item is non-empty, within the limit, and is exactly the stripped source span it names
        assert item.text and item.text == item.text.strip() and len(item.text) <= max_chars
        assert text[item.start : item.end].strip() == item.text
    # Items come in source order and do not overlap
    spans = [(item.start, item.end) for item in items]
    assert spans == sorted(spans) and all(
        a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
    )
    # And nothing but whitespace is lost or duplicated
    assert "".join(text.split()) == "".join("".join(item.text.split()) for item in items)
