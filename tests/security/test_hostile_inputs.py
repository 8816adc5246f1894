"""Each case of the hostile corpus (tests/security/hostile_corpus.py), through the public API and the portal
form: refused with a 4xx that names the problem, or accepted and stored cleaned; never a 500, never
half-saved, and the memory Python allocates while handling it stays bounded (traced here; the time and peak
memory of the worst cases against a well-formed baseline: benchmarks/bench_portal.py)."""

import html
import tracemalloc
import unicodedata
from re import _constants as sre_constants  # the parser re itself uses (sre_parse is deprecated)
from re import _parser as sre_parse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import assume, given
from hypothesis import strategies as st

from requests_app.intake import parsing
from requests_app.models import ForgetItem, ForgetRequest
from requests_app.screening.checks import facts
from tests.security.hostile_corpus import (
    BEFORE_ADDRESS_TOWN,
    BEFORE_PHRASE_END,
    BEFORE_QA,
    Hostile,
    corpus,
    module_regexes,
    redos_strings,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
CASES = corpus()
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The bound on what handling one hostile submission may allocate at its peak: twice the worst case the
# benchmark measured (31 MB, 66 000 tiny items), far below what an unbounded read of a bomb would take.
PEAK_BYTES = 64 * 2**20


def rows() -> tuple[int, int]:
    return ForgetRequest.objects.count(), ForgetItem.objects.count()


def body(case: Hostile) -> dict:
    uploads = [SimpleUploadedFile(name, data, content_type="text/plain") for name, data in case.files]
    return {**case.form_fields(), "files": uploads}


def api_message(response) -> str:
    payload = response.json()
    return " ".join([payload.get("error", ""), str(payload.get("fields", ""))])


def assert_stored_cleanly(req: ForgetRequest) -> None:
    for item in req.items.all():
        assert item.text == item.text.strip() and item.text
        assert not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n" for ch in item.text)
    assert not any(unicodedata.category(ch) == "Cc" for ch in req.requester_name)
    assert not BIDI_CONTROLS & set(req.requester_name)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_api_refuses_each_hostile_input_by_name_or_stores_it_cleaned(case):
    # Given a hostile submission
    before = rows()
    # When it is sent to the public API as multipart
    client, payload = Client(raise_request_exception=False), body(case)
    tracemalloc.start()
    try:
        response = client.post("/api/v1/forget-requests/", payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then its handling allocated a bounded amount of memory
    assert peak <= PEAK_BYTES, f"{peak / 2**20:.1f} MB at the peak"
    # And it is a 4xx naming the problem and nothing was stored, or a 201 with clean rows
    if case.refused:
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        assert case.refused in api_message(response), api_message(response)
        assert rows() == before
    else:
        assert response.status_code == 201, response.content[:500]
        assert_stored_cleanly(ForgetRequest.objects.get(public_id=response.json()["id"]))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_portal_form_shows_the_same_refusal_on_the_form(case):
    before = rows()
    response = Client(raise_request_exception=False).post("/forget/", body(case))
    if case.refused:
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        page = html.unescape(response.content.decode())
        assert case.refused in page
        assert rows() == before
    else:
        assert response.status_code == 302, response.content[:500]
        assert_stored_cleanly(ForgetRequest.objects.order_by("-pk").first())


def test_formula_cells_are_kept_as_text_and_multi_line_cells_as_one_item():
    # Given a csv whose cells are spreadsheet formulas, and one whose cell spans three lines
    formulas = dict(next(c for c in CASES if c.name == "csv formula injection").files)["formulas.csv"]
    multi = dict(next(c for c in CASES if c.name == "csv multi-line cells").files)["multi.csv"]
    # When they are split into items
    formula_items = parsing.split_csv(formulas.decode(), name="formulas.csv", max_chars=4000)
    multi_items = parsing.split_csv(multi.decode(), name="multi.csv", max_chars=4000)
    # Then a formula is an item's text like any other (nothing here evaluates or exports it)
    assert [i.text for i in formula_items][0].startswith("=HYPERLINK(")
    # And a quoted cell over three lines is one item, located from its first line to its last
    assert len(multi_items) == 2 and multi_items[1].text.count("\n") == 2
    assert multi_items[1].line == 4


UNBOUNDED = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}


def nested_unbounded_repeats(parsed, inside: bool = False) -> bool:
    """Whether an unbounded repeat sits inside another: the shape that backtracks exponentially."""
    for op, arg in parsed:
        if op in UNBOUNDED:
            _low, high, sub = arg
            unbounded = high == sre_constants.MAXREPEAT
            if unbounded and inside:
                return True
            if nested_unbounded_repeats(sub, inside or unbounded):
                return True
        elif op in (sre_constants.SUBPATTERN,):
            if nested_unbounded_repeats(arg[-1], inside):
                return True
        elif op == sre_constants.BRANCH:
            if any(nested_unbounded_repeats(branch, inside) for branch in arg[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if nested_unbounded_repeats(arg[1], inside):
                return True
    return False


# Patterns that nest a repeat in a repeat, each read and found safe: every outer repetition starts with
# whitespace, which the inner repeats ([A-Z][\w'&-]*) cannot match, so a text splits into repetitions one
# way only and a failed match backtracks linearly, not exponentially (the benchmark times them on the
# adversarial strings). A new pattern of this shape fails the test below until it is read and listed.
REVIEWED_NESTED = {
    "requests_app.screening.checks.concept._NAME[0]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[0]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[1]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[2]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[3]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[4]",
    "requests_app.screening.checks.facts._CUE_PATTERNS[9]",
    "requests_app.screening.checks.facts._ADDRESS_TOWN[0]",
}


def test_no_regex_on_submitted_text_nests_unbounded_repeats_unread():
    # Given every compiled regex of intake, the text primitive and screening's checks
    regexes = module_regexes()
    assert len(regexes) >= 50  # the walk finds them (the modules keep them at module level)
    # Then a regex nests an unbounded repeat inside another (catastrophic backtracking) only where it
    # was read and found safe
    nested = {name for name, rx in regexes.items() if nested_unbounded_repeats(sre_parse.parse(rx.pattern))}
    assert nested <= REVIEWED_NESTED, sorted(nested - REVIEWED_NESTED)


def test_the_nesting_check_sees_the_classic_redos_shapes():
    assert nested_unbounded_repeats(sre_parse.parse(r"(a+)+$"))
    assert nested_unbounded_repeats(sre_parse.parse(r"^(\w+\s?)*$"))
    assert not nested_unbounded_repeats(sre_parse.parse(r"(?:\.[\w-]{1,63}){1,8}"))


def test_the_redos_strings_get_answers_from_every_regex():
    # Each regex runs over each adversarial string and gives an answer (the benchmark times it)
    for name, rx in module_regexes().items():
        for label, hostile in redos_strings(2_000).items():
            assert isinstance(rx.findall(hostile), list), (name, label)


PIECES = [
    "Question:",
    "Q:",
    "Answer:",
    "A:",
    "Where?",
    "for",
    "in",
    "Tiramo",
    "Quay",
    "of",
    ",",
    " ",
    "\t",
    "\n",
    "x",
]


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_the_linear_screening_regexes_read_texts_as_the_quadratic_ones_did(text):
    # The question-answer pairs found are the same (a match may start later, past leading blank lines),
    # but for a "question" of blanks only, which is none
    groups = ("q", "bare", "a")
    before = [m.group(*groups) for m in BEFORE_QA.finditer(text)]
    assume(all(q is None or q.strip() for q, _, _ in before))
    assert [m.group(*groups) for m in facts._QA.finditer(text)] == before
    # The phrase is cut at the same word
    assert facts._PHRASE_END.sub("", text) == BEFORE_PHRASE_END.sub("", text)
    # And the town after an address (which ends in a letter) is the same
    for position in (i for i in range(1, len(text) + 1) if text[i - 1].isalpha()):
        before, after = BEFORE_ADDRESS_TOWN.match(text, position), facts._ADDRESS_TOWN.match(text, position)
        assert before.group(1) == after.group(1)
