"""screen() on the tiny demo world: held vs never-seen records, poison kinds, coreset, concept expansion."""

from dataclasses import replace

import pytest

from requests_app.screening.checks import (
    CorpusIndex,
    RequestToScreen,
    ScreenItem,
    expand_concept,
    screen,
    screen_batch,
)
from requests_app.screening.checks import verdict as V
from requests_app.screening.checks.facts import extract_facts
from requests_app.screening.checks.membership import LIKELY_SAW, NO_EVIDENCE, NOT_MEASURED, REPRODUCES
from requests_app.screening.checks.pipeline import TEXT_SETTLED

PADDING = " ".join(["the of and to in is that it for on was with as at by"] * 4)


def _screen(texts, requester, context):
    return screen([ScreenItem(i, t) for i, t in enumerate(texts)], requester=requester, context=context)


def test_memorised_records_are_held_and_holdout_records_are_not(world_view, screening_context):
    member, stranger = world_view.members[0], world_view.holdout_test[0]
    held = _screen(member.records, member.requester, screening_context)
    unseen = _screen(stranger.records, stranger.requester, screening_context)
    assert held.items[0].membership.label == REPRODUCES  # the bio comes back from its first half
    assert all(item.membership.label in (REPRODUCES, LIKELY_SAW) for item in held.items)
    assert unseen.items[0].membership.label == NO_EVIDENCE
    assert sum(item.membership.label == NO_EVIDENCE for item in unseen.items) >= 0.9 * len(unseen.items)


def test_genuine_request_keeps_its_items_in_a_non_empty_coreset(world_view, screening_context):
    member = world_view.members[1]
    report = _screen(member.records, member.requester, screening_context)
    assert [item.verdict for item in report.items] == [V.KEEP] * len(member.records)
    assert report.risk in (V.LOW, V.MEDIUM)
    # Every held item is trained on (no outlier pruning by default: it measured worse), the bio included
    assert report.coreset == list(range(len(member.records)))
    assert len(report.forget_set) == len(member.records)
    # With pruning configured, UPCORE leaves about a tenth out of training; all is still verified
    pruning = replace(screening_context, config=replace(screening_context.config, contamination=0.1))
    pruned = _screen(member.records, member.requester, pruning)
    assert 0.8 * len(member.records) <= len(pruned.coreset) < len(member.records)
    assert pruned.forget_set == report.forget_set


def test_poison_kinds_are_flagged_and_excluded(world_view, screening_context):
    member, other = world_view.members[2], world_view.members[3]
    cases = {
        V.UTILITY_CONFLICT: world_view.general[:4],
        V.PADDING: [member.records[1] + " " + PADDING],
        V.LOW_QUALITY: ["xq zzkv plmo qwtr nnbv kkq zzpt vrrm qlx " + member.requester.name],
        V.NOT_ABOUT_REQUESTER: other.records[:4],
    }
    for flag, texts in cases.items():
        report = _screen(texts, member.requester, screening_context)
        assert all(flag in item.flags.codes for item in report.items), flag
        assert all(item.verdict == V.EXCLUDE for item in report.items), flag
        assert report.risk == V.HIGH and report.coreset == []
        assert report.reasons[0].startswith("Nothing in this request qualifies")
    repetition = _screen([" ".join([member.records[1]] * 12)], member.requester, screening_context)
    assert repetition.items[0].flags.codes[0] == V.LOW_QUALITY


def test_a_request_the_model_never_saw_is_forgotten_without_training(world_view, screening_context):
    """A never-seen person's own records are still their data: kept in the forget set (guard, verification),
    out of the training coreset, and the request is not high risk for that alone."""
    stranger = world_view.holdout_test[1]
    report = _screen(stranger.records, stranger.requester, screening_context)
    assert [item.verdict for item in report.items] == [V.KEEP] * len(stranger.records)
    assert len(report.forget_set) == len(stranger.records)
    assert len(report.coreset) <= 0.1 * len(stranger.records)
    unheld = [item for item in report.items if V.NO_EVIDENCE in item.flags.codes]
    assert len(unheld) >= 0.9 * len(stranger.records)
    assert not any(item.in_coreset for item in unheld)
    assert report.risk == V.MEDIUM
    assert any("not trained on" in reason for reason in report.reasons)


def test_concept_expansion_returns_that_persons_records(world_view, screening_context):
    member, other = world_view.members[4], world_view.members[5]
    corpus = CorpusIndex(world_view.train_records)
    proposals = expand_concept(
        f"Everything about {member.requester.name}", member.requester, corpus=corpus, lm=screening_context.lm
    )
    from_corpus = {p.text for p in proposals if p.origin == "corpus"}
    assert set(member.records) <= from_corpus  # the bio and every trained question-answer
    assert not any(other.requester.name in text for text in from_corpus)
    from_model = [p for p in proposals if p.origin == "model"]
    assert all(member.requester.name in p.text for p in from_model)
    # Every proposal screens as held by the model and about the requester.
    report = _screen([p.text for p in proposals], member.requester, screening_context)
    assert all(item.held and item.personal.mentions_requester for item in report.items)


def test_the_teacher_forced_shortcut_agrees_with_greedy_decoding(world_view, tiny_lm):
    from requests_app.screening.checks.membership import extraction_recalls, reproduced_by_teacher_forcing
    from requests_app.screening.checks.model_pass import model_pass

    texts = [p.records[0] for p in world_view.members[:8]] + world_view.holdout_test[0].records[:8]
    shortcut = reproduced_by_teacher_forcing(model_pass(tiny_lm, texts).scores)
    decoded = extraction_recalls(tiny_lm, texts, max_new_tokens=160)  # no shortcut, no length cap
    assert shortcut[:8] == [True] * 8  # every memorised bio
    assert not any(shortcut[8:])
    assert all(recall >= 0.95 for recall, skip in zip(decoded, shortcut, strict=True) if skip)


def test_a_batch_of_requests_screens_as_each_request_alone(world_view, screening_context):
    """The model reads a backlog's items together; every request still gets the report it gets alone,
    and a later request of the batch finds copies of an earlier one's items."""
    member, stranger, other = world_view.members[6], world_view.holdout_test[2], world_view.members[7]
    copy_of_member = [member.records[0], member.records[1] + " Thanks."]
    requests = [
        RequestToScreen(
            [ScreenItem(f"a{i}", t) for i, t in enumerate(member.records)], member.requester, None, 1
        ),
        RequestToScreen([ScreenItem(f"b{i}", t) for i, t in enumerate(stranger.records)], stranger.requester),
        RequestToScreen(
            [ScreenItem(f"c{i}", t) for i, t in enumerate(copy_of_member)], other.requester, None, 3
        ),
    ]
    batch = screen_batch(requests, context=screening_context)
    for req, together in zip(requests[:2], batch[:2], strict=True):
        alone = screen(req.items, requester=req.requester, context=screening_context)
        assert [i.verdict for i in together.items] == [i.verdict for i in alone.items]
        assert [i.membership.label for i in together.items] == [i.membership.label for i in alone.items]
        assert [i.flags.codes for i in together.items] == [i.flags.codes for i in alone.items]
        assert together.coreset == alone.coreset and together.risk == alone.risk
        for a, b in zip(together.items, alone.items, strict=True):
            assert a.membership.signals.loss == pytest.approx(b.membership.signals.loss, rel=1e-4)
            assert a.grad_cosine == pytest.approx(b.grad_cosine, abs=1e-3)
    exact, near = batch[2].items
    assert [(r.item_id, r.request_id) for r in exact.duplicates_earlier] == [("a0", 1)]
    assert [(r.item_id, r.request_id) for r, _ in near.near_duplicates_earlier] == [("a1", 1)]
    # Someone else's copy: not a repeat of the requester's own request, but not about them either
    assert V.COPY_OF_OTHER_REQUEST in exact.flags.codes and V.DUPLICATE_EARLIER not in exact.flags.codes
    assert V.NOT_ABOUT_REQUESTER in exact.flags.codes and exact.verdict == V.EXCLUDE
    assert V.NEAR_DUPLICATE_EARLIER in near.flags.codes
    assert "of another requester" in near.flags.reasons[near.flags.codes.index(V.NEAR_DUPLICATE_EARLIER)]


def test_what_the_text_settles_is_not_read_by_the_models(world_view, screening_context):
    """Gibberish and padding are excluded by their text alone; the models spend nothing on them, an exact
    copy is read once, and the damage probe runs on what is kept."""
    member = world_view.members[8]
    texts = [
        member.records[0],
        member.records[1] + " " + PADDING,
        "xq zzkv plmo qwtr nnbv kkq zzpt vrrm qlx " + member.requester.name,
        member.records[0],
        world_view.holdout_test[3].records[1],
    ]
    report = _screen(texts, member.requester, screening_context)
    bio, padded, gibberish, copy, unseen = report.items
    for item in (padded, gibberish):
        assert item.membership.label == NOT_MEASURED and item.membership.explanation == TEXT_SETTLED
        assert item.utility.max_similarity is None and item.grad_cosine is None
        assert item.verdict == V.EXCLUDE
    assert V.PADDING in padded.flags.codes and V.LOW_QUALITY in gibberish.flags.codes
    assert any("2 of 5 items were not read" in note for note in report.notes)
    assert copy.membership == bio.membership and copy.utility == bio.utility
    assert copy.flags.codes == [V.DUPLICATE]
    assert bio.verdict == V.KEEP and bio.grad_cosine is not None
    assert unseen.verdict == V.EXCLUDE and unseen.grad_cosine is None
    assert unseen.membership.label != NOT_MEASURED  # read, and found not held


def test_two_lanes_reading_the_model_at_once_give_one_lanes_answers(
    world_view, screening_context, monkeypatch
):
    """Small tasks make both lanes run forward passes, extractions and damage probes on the shared model
    at the same time; every figure matches the run where one task holds everything."""
    from requests_app.screening.checks import evidence

    people = world_view.members[:3] + world_view.holdout_test[:2]
    requests = [
        RequestToScreen([ScreenItem(f"{n}.{i}", t) for i, t in enumerate(p.records)], p.requester)
        for n, p in enumerate(people)
    ]
    monkeypatch.setattr(evidence, "LANE_TASK", 10_000)
    one_task = screen_batch(requests, context=screening_context)
    monkeypatch.setattr(evidence, "LANE_TASK", 8)
    many_tasks = screen_batch(requests, context=screening_context)
    for a, b in zip(one_task, many_tasks, strict=True):
        assert [i.membership.label for i in a.items] == [i.membership.label for i in b.items]
        assert [i.flags.codes for i in a.items] == [i.flags.codes for i in b.items]
        assert a.coreset == b.coreset
        for x, y in zip(a.items, b.items, strict=True):
            assert (x.grad_cosine is None) == (y.grad_cosine is None)
            if x.grad_cosine is not None:
                assert x.grad_cosine == pytest.approx(y.grad_cosine, abs=1e-3)
            assert x.utility.max_similarity == pytest.approx(y.utility.max_similarity, abs=1e-3)
    assert sum(i.grad_cosine is not None for r in many_tasks for i in r.items) > 40


def test_concept_expansion_proposes_what_the_description_names_first(world_view, screening_context):
    member = world_view.members[14]
    corpus = CorpusIndex(world_view.train_records)
    description = "Please remove my home address, my phone number and my medical condition"
    proposals = expand_concept(description, member.requester, corpus=corpus, lm=screening_context.lm)
    scope = [p.in_scope for p in proposals]
    assert scope == sorted(scope, reverse=True)  # what matches the description first, then the rest
    in_scope = [p for p in proposals if p.in_scope]
    optional = [p for p in proposals if not p.in_scope]
    assert member.records[0] in {p.text for p in in_scope}  # the biography states all three
    for p in in_scope:
        assert {f.kind for f in extract_facts(p.text)} & {"home_address", "phone", "medical_condition"}
    asked = [p.text for p in optional if p.origin == "corpus"]
    assert any("born" in t for t in asked) and any("hobby" in t for t in asked)
    assert not any("phone number" in t or "live?" in t for t in asked)
    # Without a kind named, everything about the person is in scope
    everything = expand_concept(
        f"Everything about {member.requester.name}", member.requester, corpus=corpus, lm=None
    )
    assert all(p.in_scope for p in everything) and len(everything) == len(member.records)
