"""Probes: prefix cuts, what counts as a protected value appearing, bounded selection, and the probes the
demo world gives for a forget set (who is a neighbour, what relearning may show)."""

import pytest

from verification.metrics.probes import Probe, cap_per_kind, mentions, mixed_probe, prefix_probes
from verification.metrics.suite import Budget, capped
from verification.metrics.world_probes import (
    RELEARN_ATTRIBUTES,
    identifying_values,
    neighbour_ids,
    question_probes,
    relearn_split,
)

BIO = "Vora Klen was born on 3 May 1970 in Tellis. She can be reached on 0317 4829."


def test_prefix_probes_cut_before_a_word_and_keep_the_space_with_the_target():
    # Given a 17-word text with two protected values, one early and one at the end
    protected = ["3 May 1970", "0317 4829"]
    # When it is cut at 25, 50 and 75 % of its words
    probes = prefix_probes("bio-1", BIO, protected=protected, subject_id="p1")
    # Then each probe's prompt and target put back together give the text, cut between words
    assert [p.kind for p in probes] == ["prefix-25", "prefix-50", "prefix-75"]
    for probe in probes:
        assert probe.prompt + probe.target == BIO
        assert probe.target.startswith(" ") and not probe.prompt.endswith(" ")
    assert probes[0].prompt == "Vora Klen was born"
    # And a value the prompt already shows is no longer a secret of that probe
    assert probes[0].protected == ("3 May 1970", "0317 4829")
    assert probes[2].protected == ("0317 4829",)
    with pytest.raises(ValueError):
        prefix_probes("bio-1", BIO, fractions=[1.0])


def test_a_protected_value_counts_as_whole_words_only():
    assert mentions("Call 0317 4829 today.", "0317 4829")
    assert mentions("CALL 0317-4829", "0317 4829")  # punctuation and case do not hide it
    assert not mentions("Call 0317 48291 today.", "0317 4829")  # a longer number is another number
    assert not mentions("anything", "")


def test_caps_keep_every_subject_represented(probe_set, forget_ids):
    # Given questions about two forgotten people, 30 of each kind
    assert len([p for p in probe_set.questions if p.kind == "question"]) > 4
    # When the set is cut to 4 probes of each kind
    kept = cap_per_kind(probe_set.questions, 4)
    # Then both people are still asked about, in both phrasing kinds
    assert {p.kind for p in kept} == {"question", "paraphrase"}
    assert {p.subject_id for p in kept if p.kind == "question"} == set(forget_ids)
    # And the suite's cut keeps mixed prompts aligned with the plain questions they wrap
    small = capped(probe_set, Budget(max_mixed_probes=5))
    assert len(small.mixed) == 5
    assert [m.target for m in small.mixed] == [p.target for p in small.mixed_plain]


def test_neighbours_share_a_value_with_a_forgotten_person_and_nobody_else_does(records, forget_ids):
    forgotten_values = {v for pid in forget_ids for v in records.person(pid)["attributes"].values()}
    neighbours = neighbour_ids(records, forget_ids)
    kept = [pid for pid in records.ids("member") if pid not in forget_ids]
    assert neighbours and not set(neighbours) & set(forget_ids)
    for pid in kept:
        shares = bool(forgotten_values & set(records.person(pid)["attributes"].values()))
        assert shares == (pid in neighbours)


def test_identifying_values_are_held_by_nobody_else(records, forget_ids):
    others = {v for p in records.people if p["person_id"] != forget_ids[0] for v in p["attributes"].values()}
    values = identifying_values(records, forget_ids[0])
    assert records.person(forget_ids[0])["attributes"]["phone"] in values
    assert not set(values) & others


def test_relearning_never_shows_what_is_probed_after_it(records, forget_ids):
    # Given the relearning split for the forgotten people
    texts, probes = relearn_split(records, forget_ids)
    relearnt_values = {records.person(pid)["attributes"][a] for pid in forget_ids for a in RELEARN_ATTRIBUTES}
    # Then the attacker's data holds the relearnt facts, and the probes ask for the others only
    assert texts and probes
    assert all(any(v in answer for v in relearnt_values) for _, answer in texts)
    assert all(p.target.strip() not in relearnt_values for p in probes)
    assert not {v for p in probes for v in p.protected} & relearnt_values


def test_a_mixed_probe_expects_the_normal_answer(records, forget_ids):
    normal = question_probes(records, ["p0010"], phrasings=(0,))[0]
    mixed = mixed_probe(normal, "Question: When was Vora Klen born?")
    assert mixed.target == normal.target and mixed.kind == "mixed" and mixed.protected == ()
    assert mixed.prompt.startswith("Question: When was Vora Klen born?\n") and mixed.prompt.endswith(
        normal.prompt
    )
    with pytest.raises(ValueError):
        Probe(item_id="x", prompt="p", target="  ", kind="question")
