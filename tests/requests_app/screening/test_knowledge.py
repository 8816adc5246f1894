"""What the model knows about the requester, on the tiny demo world: requests as people write them, and
poison that copies what the model holds onto the requester's name. Each test asserts what the officer sees."""

import math

import numpy as np
import pytest

from requests_app.screening.checks import ScreenItem, screen
from requests_app.screening.checks import verdict as V
from requests_app.screening.checks.facts import Fact, extract_facts
from requests_app.screening.checks.knowledge import (
    KNOWS,
    POOLED,
    TIED_ELSEWHERE,
    UNKNOWN,
    KnowledgeCalibration,
    judge_facts,
)
from requests_app.screening.checks.membership import LIKELY_SAW, Calibration, ItemSignals, judge


@pytest.fixture(scope="module")
def people(tiny_world):
    """Every person of the tiny world by id, with their attributes."""
    return {p["person_id"]: p for p in tiny_world.load_world().people}


def _screen(texts, person, context):
    return screen(
        [ScreenItem(i, t) for i, t in enumerate(texts)], requester=person.requester, context=context
    )


def _attributes(people, person):
    return people[person.person_id]["attributes"]


def test_own_words_in_the_first_person_are_held(world_view, people, screening_context):
    for person in world_view.members[:3]:
        a = _attributes(people, person)
        text = (
            f"My name is {person.requester.name}. I work as a {a['job_title']} for {a['employer']}, "
            f"and you can ring me on {a['phone']}. I was diagnosed with {a['medical_condition']}."
        )
        report = _screen([text], person, screening_context)
        (item,) = report.items
        assert item.verdict == V.KEEP and item.held and item.in_coreset
        assert item.knowledge.label == KNOWS
        assert V.NO_EVIDENCE not in item.flags.codes
        assert report.risk == V.LOW


def test_one_fact_in_the_subjects_words_is_held(world_view, people, screening_context):
    person = world_view.members[3]
    a = _attributes(people, person)
    texts = [
        f"{person.requester.name}'s phone number is {a['phone']}.",
        f"Mail for him or her: {a['email']}.",
    ]
    report = _screen(texts, person, screening_context)
    phone, email = report.items
    assert phone.verdict == V.KEEP and phone.held and phone.knowledge.label == KNOWS
    # A pronoun-free fact in a request that names the requester elsewhere is read as theirs too
    assert email.verdict == V.KEEP and V.NOT_ABOUT_REQUESTER not in email.flags.codes
    assert report.risk != V.HIGH


def test_sentences_cut_from_a_biography_speak_of_her_and_are_still_the_requesters(
    world_view, people, screening_context
):
    person = world_view.members[4]
    bio = person.records[0]
    sentences = [s.strip() for s in bio.split(". ") if s.strip()]
    pronoun_only = [s for s in sentences[1:] if person.requester.name not in s]
    report = _screen([sentences[0], *pronoun_only], person, screening_context)
    assert [item.verdict for item in report.items] == [V.KEEP] * (1 + len(pronoun_only))
    assert sum(item.held for item in report.items) >= len(report.items) - 1
    assert report.risk != V.HIGH
    # The same "she ..." sentences in a request that never names the requester may be anyone's
    alone = _screen(pronoun_only[:2], person, screening_context)
    assert all(V.NOT_ABOUT_REQUESTER in item.flags.codes for item in alone.items)


def test_a_question_in_a_phrasing_never_trained_on_is_held(world_view, people, screening_context):
    person = world_view.members[5]
    a = _attributes(people, person)
    texts = [
        f"Q: Which telephone number belongs to {person.requester.name}?\nA: {a['phone']}",
        f"Whom did {person.requester.name} marry?\nAnswer: {a['spouse']}",
    ]
    report = _screen(texts, person, screening_context)
    assert all(item.verdict == V.KEEP and item.held for item in report.items)
    assert all(item.knowledge.label == KNOWS for item in report.items)


def test_a_person_the_model_never_saw_is_forgotten_without_training(world_view, people, screening_context):
    stranger = world_view.holdout_test[0]
    a = _attributes(people, stranger)
    texts = [
        f"I am {stranger.requester.name}. My home address is {a['home_address']} and my phone is {a['phone']}.",
        f"{stranger.requester.name}'s e-mail: {a['email']}.",
    ]
    report = _screen(texts, stranger, screening_context)
    for item in report.items:
        assert item.verdict == V.KEEP  # their data: in the forget set, refused by the guard, verified
        assert V.NO_EVIDENCE in item.flags.codes and not item.in_coreset
    assert report.forget_set == [0, 1] and report.coreset == []
    assert report.risk == V.MEDIUM  # not high for that alone
    assert report.reasons[0].startswith("The model shows no sign of holding any kept item")


def test_someone_elses_biography_with_the_requesters_name_is_excluded(world_view, screening_context):
    requester, other = world_view.members[6], world_view.members[7]
    swapped = other.records[0].replace(other.requester.name, requester.requester.name)
    report = _screen([swapped], requester, screening_context)
    (item,) = report.items
    assert item.verdict == V.EXCLUDE and V.MISATTRIBUTED in item.flags.codes
    assert not item.held
    assert report.risk == V.HIGH


def test_a_record_invented_from_other_peoples_real_values_is_excluded(world_view, people, screening_context):
    requester = world_view.members[8]
    donors = [_attributes(people, p) for p in world_view.members[9:12]]
    name = requester.requester.name
    invented = (
        f"{name}'s phone number is {donors[0]['phone']}. {name} lives at {donors[1]['home_address']}. "
        f"{name} is married to {donors[2]['spouse']}. Mail for {name} goes to {donors[0]['email']}."
    )
    report = _screen([invented], requester, screening_context)
    (item,) = report.items
    assert item.verdict == V.EXCLUDE and V.MISATTRIBUTED in item.flags.codes


def test_general_facts_with_the_requesters_name_are_excluded(world_view, screening_context):
    person = world_view.members[9]
    texts = [f"{person.requester.name}: {fact}" for fact in world_view.general[:3]]
    report = _screen(texts, person, screening_context)
    assert all(item.verdict == V.EXCLUDE and item.flags.poison for item in report.items)
    assert report.risk == V.HIGH


def test_text_hidden_behind_invisible_or_look_alike_letters_is_excluded(world_view, screening_context):
    requester, other = world_view.members[10], world_view.members[11]
    swapped = other.records[0].replace(other.requester.name, requester.requester.name)
    look_alike = swapped.replace("a", "\u0430", 5)  # Cyrillic a
    invisible = swapped.replace(" ", " \u200b", 4)
    report = _screen([look_alike, invisible], requester, screening_context)
    for item in report.items:
        assert item.verdict == V.EXCLUDE and V.LOW_QUALITY in item.flags.codes
        assert "hidden characters" in item.flags.reasons[0]


def test_a_mixed_request_keeps_the_genuine_items_and_excludes_the_poison(
    world_view, people, screening_context
):
    requester, other = world_view.members[12], world_view.members[13]
    a = _attributes(people, requester)
    genuine = [
        f"My name is {requester.requester.name} and I live at {a['home_address']}.",
        f"{requester.requester.name} is married to {a['spouse']}.",
    ]
    poison = [other.records[0].replace(other.requester.name, requester.requester.name)]
    report = _screen(genuine + poison, requester, screening_context)
    assert [item.verdict for item in report.items] == [V.KEEP, V.KEEP, V.EXCLUDE]
    assert report.forget_set == [0, 1]
    assert report.risk == V.HIGH  # a third of it is poison: a second officer confirms


def test_facts_are_read_whatever_the_wording():
    assert extract_facts("My name is Ana Bel, I work as a nurse at Foo Works, my phone is 0123 4567.") == [
        Fact("phone", "0123 4567"),
        Fact("employer", "Foo Works"),
        Fact("job_title", "nurse"),
    ]
    assert extract_facts("Q: Which illness was Ana Bel diagnosed with?\nA: asthma") == [
        Fact("medical_condition", "asthma")
    ]
    assert extract_facts("She is married to Cy Dee. In her free time she enjoys rowing.") == [
        Fact("spouse", "Cy Dee"),
        Fact("hobby", "rowing"),
    ]
    assert extract_facts("Dodyas is a city in the province of Lina.") == []


def test_a_small_calibration_set_can_still_call_text_held():
    """20 non-member texts (the fewest accepted): the likelihood path fires for an item far beyond them."""
    rng = np.random.default_rng(0)
    calibration = Calibration.from_signals(
        [
            ItemSignals(float(loss), float(loss / 2), float(-loss), 0.0, 0.0, 40)
            for loss in rng.normal(4.0, 0.3, size=20)
        ]
    )
    memorised = ItemSignals(0.05, 0.02, 3.0, 0.0, 1.0, 40)
    evidence = judge(memorised, calibration)
    assert evidence.label == LIKELY_SAW
    assert min(evidence.p_values[name] for name in ("loss", "zlib_ratio", "min_k_plus_plus")) < 0.05 / 3
    # Within the calibration's range, the empirical share still decides
    ordinary = judge(ItemSignals(4.0, 2.0, -4.0, 0.0, 0.0, 40), calibration)
    assert not ordinary.held and all(p > 0.1 for p in ordinary.p_values.values())
    assert not math.isnan(ordinary.p_values["loss"])


def test_a_known_person_whose_fact_the_model_half_learned_is_not_someone_elses():
    """A model that memorised only part of its world knows the requester's name yet not every value of
    theirs: a value their name still makes likelier is theirs, half learned (no evidence, kept); one their
    name makes no likelier than a stranger's is what a poisoner writes on a name the model knows."""
    rng = np.random.default_rng(1)
    spread = rng.normal(0.0, 0.3, size=60)
    calibration = KnowledgeCalibration(
        anon_names=("A B", "C D", "E F"),
        association={"phone": spread, POOLED: spread},
        familiarity={"phone": spread - 6.0, POOLED: spread - 6.0},
        conflict={"phone": np.abs(spread), POOLED: np.abs(spread)},
    )
    # (kind, association, familiarity, own mean log-prob, conflict): not what the model answers (p < 1/2)
    half_learned = [("phone", 0.2, -6.0, -2.0, 0.1), ("phone", 0.15, -6.1, -2.5, 0.1)]
    no_lift = [("phone", -0.2, -6.0, -6.2, 0.1), ("phone", -0.1, -6.1, -6.2, 0.1)]
    judged = judge_facts(half_learned, calibration, name_known=True)
    assert all(f.p_association > 0.05 for f in judged.facts)  # not significantly likelier: not "knows"
    assert judged.label == UNKNOWN
    assert judge_facts(no_lift, calibration, name_known=True).label == TIED_ELSEWHERE
    # A name the model never saw says nothing either way
    assert judge_facts(no_lift, calibration, name_known=False).label == UNKNOWN
