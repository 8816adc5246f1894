"""Intake rules without the database: normalisation, decoding, splitting, limits."""

import json
import unicodedata

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from palimpsest.errors import ApplicationError
from palimpsest.ml.text import clean_text
from palimpsest.personal import personal_hash
from requests_app.intake import parsing

LIM = parsing.Limits(
    max_items=5,
    max_item_chars=60,
    max_request_chars=200,
    max_file_bytes=300,
    max_files=2,
    max_examples=2,
    max_example_chars=50,
    max_concept_chars=100,
)


def test_paragraphs_become_items_with_hash_and_position():
    text = "First paragraph.\r\n\r\n  Second one\nstill second.\n\n\n\nThird."
    items = parsing.corpus_items(pasted_text=text, files=[], lim=LIM)
    normalised = clean_text(text)
    assert [i.text for i in items] == ["First paragraph.", "Second one\nstill second.", "Third."]
    for item in items:
        assert normalised[item.start : item.end] == item.text
        assert item.sha256 == personal_hash(item.text)
        assert item.source == "pasted"


def test_text_is_nfc_normalised_and_control_characters_dropped():
    decomposed = "Jose\u0301 lives in Mu\u0308nchen\u0007."
    [item] = parsing.corpus_items(pasted_text=decomposed, files=[], lim=LIM)
    assert item.text == "José lives in München."
    assert unicodedata.is_normalized("NFC", item.text)


def test_a_long_paragraph_is_cut_at_sentence_ends_into_bounded_items():
    text = "Ana Vell was born in Portmere. " * 5
    items = parsing.corpus_items(pasted_text=text, files=[], lim=LIM)
    assert len(items) > 1
    assert all(len(i.text) <= LIM.max_item_chars for i in items)
    assert all(i.text.endswith(".") for i in items)


@pytest.mark.parametrize("text", ["", "   \n\n \t  ", "\u0000\u0007"])
def test_empty_or_whitespace_only_text_is_refused(text):
    with pytest.raises(ApplicationError, match="Paste the text") as caught:
        parsing.corpus_items(pasted_text=text, files=[], lim=LIM)
    assert caught.value.field == "text"


def test_csv_gives_one_item_per_row_with_its_line():
    upload = SimpleUploadedFile("people.csv", b'name,city\n"Vell, Ana",Portmere\n\nRoe,"Lyon"\n')
    items = parsing.corpus_items(pasted_text="", files=[upload], lim=LIM)
    assert [(i.text, i.line) for i in items] == [
        ("name, city", 1),
        ("Vell, Ana, Portmere", 2),
        ("Roe, Lyon", 4),
    ]
    assert all(i.source_name == "people.csv" and i.source == "upload" for i in items)


def test_jsonl_gives_one_item_per_record_and_names_a_bad_line():
    good = SimpleUploadedFile(
        "q.jsonl", "\n".join(json.dumps({"text": t}) for t in ["A one.", "B two."]).encode()
    )
    assert [i.text for i in parsing.corpus_items(pasted_text="", files=[good], lim=LIM)] == [
        "A one.",
        "B two.",
    ]
    bad = SimpleUploadedFile("q.jsonl", b'{"text": "ok"}\n{"title": "no text"}\n')
    with pytest.raises(ApplicationError, match="Line 2 of “q.jsonl”"):
        parsing.corpus_items(pasted_text="", files=[bad], lim=LIM)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.txt", b"GIF89a\x00\x01\x02", "“photo.txt” looks like a binary file"),
        ("latin.txt", "Café".encode("latin-1"), "“latin.txt” is not readable UTF-8"),
        ("notes.pdf", b"%PDF-1.4", "“notes.pdf” is not a file type we accept"),
        ("big.md", b"x" * 301, "“big.md” is 301 bytes"),
        ("blank.md", b"  \n\n ", "“blank.md” is empty"),
    ],
)
def test_bad_files_are_refused_naming_the_file(name, content, message):
    with pytest.raises(ApplicationError, match=message) as caught:
        parsing.corpus_items(pasted_text="Fine text.", files=[SimpleUploadedFile(name, content)], lim=LIM)
    assert caught.value.field == "files"


def test_the_size_of_a_file_is_checked_before_it_is_read():
    class Unreadable:
        name, size = "huge.txt", 10**9

        def read(self, *args):
            raise AssertionError("the file was read before its size was checked")

    with pytest.raises(ApplicationError, match="huge.txt"):
        parsing.corpus_items(pasted_text="", files=[Unreadable()], lim=LIM)


def test_request_limits_on_items_characters_and_files():
    with pytest.raises(ApplicationError, match="6 items .* the limit is 5"):
        parsing.corpus_items(pasted_text="\n\n".join(f"Item {n}." for n in range(6)), files=[], lim=LIM)
    with pytest.raises(ApplicationError, match="characters long; the limit is 200"):
        parsing.corpus_items(pasted_text="x " * 150, files=[], lim=LIM)
    files = [SimpleUploadedFile(f"{n}.txt", b"text") for n in range(3)]
    with pytest.raises(ApplicationError, match="at most 2 files"):
        parsing.corpus_items(pasted_text="", files=files, lim=LIM)


def test_concept_examples_need_a_question_and_stay_within_limits():
    examples = parsing.concept_examples([("Where does Ana live?", "4 Quay Road"), ("", "")], lim=LIM)
    assert [(e.question, e.answer) for e in examples] == [("Where does Ana live?", "4 Quay Road")]
    with pytest.raises(ApplicationError, match="Example 1: give the question"):
        parsing.concept_examples([("", "an answer")], lim=LIM)
    with pytest.raises(ApplicationError, match="Example 1: the answer is 51"):
        parsing.concept_examples([("Q?", "a" * 51)], lim=LIM)
    with pytest.raises(ApplicationError, match="at most 2 examples"):
        parsing.concept_examples([("Q1?", ""), ("Q2?", ""), ("Q3?", "")], lim=LIM)


@pytest.mark.parametrize(
    "hostile_line",
    ["[" * 100_000 + "]" * 100_000, '{"text": ' + "9" * 5000 + "}"],
    ids=["nested-too-deep", "huge-number"],
)
def test_jsonl_lines_the_parser_cannot_take_are_refused_by_name_not_crashed_on(hostile_line):
    text = '{"text": "Ana Vell lives at 4 Quay Road."}\n' + hostile_line
    with pytest.raises(ApplicationError, match="Line 2 of “upload.jsonl” is not valid JSON"):
        parsing.split_jsonl(text, name="upload.jsonl", max_chars=4000)
