"""Pure text checks: duplicates (exact, near, across requests), quality and language, personal-data evidence."""

from requests_app.screening.checks.dedupe import InMemoryIndex, ItemRef, find_duplicates
from requests_app.screening.checks.personal import Requester, personal_evidence
from requests_app.screening.checks.quality import assess_quality, guess_language

BIO = (
    "Vora Klen was born on 3 May 1971 in Tremouth. She lives at 14 Mill Lane, Tremouth. She works as a "
    "pastry chef at Dravo Works. She can be reached on 0317 4829 or by e-mail at vora31@inklet.example. "
    "In her free time she enjoys rowing."
)


def test_exact_and_near_duplicates_inside_a_request():
    near = BIO.replace("rowing", "sailing")
    findings = find_duplicates([BIO, "Something else entirely about a garden party.", BIO, near])
    assert findings.exact_in_request == [None, None, 0, None]
    assert [j for j, _ in findings.near_in_request[3]] == [0]
    assert findings.near_in_request[1] == []


def test_near_duplicates_across_requests_come_from_the_earlier_index():
    earlier = InMemoryIndex()
    earlier.add(ItemRef(item_id=101, request_id=7, request_status="approved"), BIO)
    earlier.add(
        ItemRef(item_id=102, request_id=8), "Question: Where does Ana Vell live?\nAnswer: 4 Quay Road"
    )
    edited = BIO.replace("pastry chef", "baker")
    findings = find_duplicates(
        [edited, BIO, "Ulma Sorn enjoys chess on Sundays with her brother."], earlier=earlier
    )
    assert [(d.ref.item_id, d.ref.request_id) for d in findings.near_earlier[0]] == [(101, 7)]
    assert findings.near_earlier[0][0].jaccard >= 0.72
    assert [r.item_id for r in findings.exact_earlier[1]] == [101]
    assert findings.near_earlier[2] == [] and findings.exact_earlier[2] == []


def test_texts_without_words_are_never_called_near_copies_of_each_other():
    earlier = InMemoryIndex()
    earlier.add(ItemRef(item_id=201, request_id=9), "#$%& @!?~ ^=+")
    findings = find_duplicates(["*@! ~~^ #$", "%%& ?=+ @@", "#$%& @!?~ ^=+"], earlier=earlier)
    assert findings.near_in_request == [[], [], []]
    assert findings.near_earlier == [[], [], []]
    assert [r.item_id for r in findings.exact_earlier[2]] == [201]  # an exact copy is still found


def test_genuine_records_pass_quality_and_gibberish_does_not():
    assert assess_quality(BIO).passed
    assert assess_quality("Question: When was Vora Klen born?\nAnswer: 3 May 1971").passed
    gibberish = assess_quality("xq zzkv plmo qwtr nnbv kkq zzpt vrrm qlx")
    assert not gibberish.passed and gibberish.language == "unknown"
    symbols = assess_quality("#$% ^&* @@! ++ == -- ~~ ##")
    assert not symbols.passed
    repeated = assess_quality(" ".join(["Vora Klen lives at 14 Mill Lane."] * 15))
    assert not repeated.passed
    assert any("repeat" in reason for reason in repeated.reasons)


def test_language_guess():
    assert guess_language("Sie wohnt in der Mühlgasse und ist mit dem Bäcker verheiratet.")[0] == "de"
    assert guess_language(BIO)[0] == "en"


def test_personal_evidence_separates_the_requester_from_someone_else():
    vora = Requester("Vora Klen", "vora31@inklet.example")
    mine = personal_evidence(BIO, vora)
    assert mine.mentions_requester and "full name" in mine.matched
    assert {"email", "phone", "date", "address"} <= set(mine.personal_data_kinds)
    by_email = personal_evidence("Write to VORA31@inklet.example for the keys.", vora)
    assert by_email.mentions_requester and by_email.matched == ["e-mail"]
    someone_else = personal_evidence(BIO, Requester("Ana Vell", "ana.vell@example.org"))
    assert someone_else.may_not_be_about_requester
    assert someone_else.other_emails == 1
    by_phone = personal_evidence(BIO, Requester("V. K.", "", identifiers=("+0317-4829",)))
    assert by_phone.mentions_requester and by_phone.matched == ["identifier"]
