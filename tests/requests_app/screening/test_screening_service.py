"""The screening stage on PostgreSQL: one stored report per request, the persisted duplicate index, proposals."""

import json

import pytest
from django.urls import reverse

from palimpsest.errors import ApplicationError
from requests_app.models import AuditEvent, ForgetItem, ItemSource, RequestKind, Status
from requests_app.review import selectors as review_selectors
from requests_app.review import services as review_services
from requests_app.review.models import ApprovedItem, ItemChoice
from requests_app.review.selectors import forget_set
from requests_app.review.services import forget_item_proposal_decide
from requests_app.screening import tasks as screening_tasks
from requests_app.screening.models import (
    ItemScreening,
    NearDuplicateBand,
    NearDuplicateSignature,
    ProposalStatus,
    ScreeningReport,
)
from requests_app.screening.services import forget_request_screen
from tests.requests_app.factories import make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_settings(settings, tiny_world):
    settings.PALIMPSEST_DEMO_ROOT = tiny_world.root
    settings.PALIMPSEST_BASE_MODEL = tiny_world.model_dir
    return settings


def _request_for(person, texts, **fields):
    return make_request(
        status=Status.VERIFIED,
        texts=tuple(texts),
        requester_name=person.requester.name,
        requester_email=person.requester.email,
        **fields,
    )


def test_screening_twice_gives_one_report_and_moves_the_request_to_review(demo_settings, world_view):
    person = world_view.members[6]
    req = _request_for(person, person.records[:6] + ["xq zzkv plmo qwtr nnbv kkq zzpt vrrm"])

    first = forget_request_screen(request_id=req.pk)
    report = ScreeningReport.objects.get(request=req)
    stamp = report.updated_at
    screening_tasks.screen_request.apply(args=[req.pk]).get()  # the task, run a second time

    assert first.status == Status.IN_REVIEW
    req.refresh_from_db()
    assert req.status == Status.IN_REVIEW
    assert ScreeningReport.objects.filter(request=req).count() == 1
    assert ScreeningReport.objects.get(request=req).updated_at == stamp  # nothing recomputed
    rows = {
        row.item.position: row for row in ItemScreening.objects.filter(report=report).select_related("item")
    }
    assert len(rows) == 7
    assert rows[6].verdict == "exclude" and "low_quality" in rows[6].flags
    assert all(rows[i].verdict == "keep" and rows[i].membership_label != "no evidence" for i in range(6))
    assert set(report.coreset_item_ids) <= {rows[i].item_id for i in range(6)} and report.coreset_item_ids
    assert report.figures["items"] == 7 and report.risk in ("medium", "high")
    screened = AuditEvent.objects.filter(action="request.screened", object_id=str(req.pk))
    assert screened.count() == 1
    stored = json.dumps(screened.get().data)
    assert person.requester.name not in stored and person.requester.email not in stored
    assert NearDuplicateSignature.objects.filter(request=req).count() == 7
    assert NearDuplicateBand.objects.filter(signature__request=req).count() == 7 * 14


def test_near_duplicates_across_requests_come_from_the_persisted_index(
    demo_settings, world_view, client, make_user
):
    person = world_view.members[7]
    bio, qa = person.records[0], person.records[1]
    earlier = _request_for(person, [bio, qa])
    forget_request_screen(request_id=earlier.pk)
    edited_bio = bio.replace(" for several years", "")
    later = _request_for(person, [edited_bio, qa, person.records[2]])

    forget_request_screen(request_id=later.pk)

    rows = list(ItemScreening.objects.filter(item__request=later).order_by("item__position"))
    earlier_ids = list(earlier.items.order_by("position").values_list("pk", flat=True))
    assert [d["item_id"] for d in rows[0].duplicates_earlier] == [earlier_ids[0]]
    assert "near_duplicate_earlier" in rows[0].flags
    assert [d["item_id"] for d in rows[1].duplicates_earlier] == [earlier_ids[1]]
    assert "duplicate_earlier" in rows[1].flags and rows[1].verdict == "exclude"
    assert rows[1].duplicates_earlier[0]["same_requester"] is True
    assert rows[2].duplicates_earlier == [] and rows[2].verdict == "keep"
    # The officer reads that the repeat is forgotten through the requester's earlier request
    client.force_login(make_user("olga", "compliance_officer"))
    html = client.get(reverse("review:detail", kwargs={"public_id": later.public_id})).content.decode()
    assert f"already in your request {earlier.pk} (in review), which forgets it" in html
    assert f"leave it out here: the requester's request {earlier.pk} already forgets it" in html

    # Someone else filing the same question: not their repeat (and here not about them either)
    stranger = _request_for(world_view.members[9], [qa])
    forget_request_screen(request_id=stranger.pk)
    copied = ItemScreening.objects.get(item__request=stranger)
    assert [d["same_requester"] for d in copied.duplicates_earlier] == [False, False]
    assert "copy_of_other_request" in copied.flags and "duplicate_earlier" not in copied.flags
    assert "not_about_requester" in copied.flags and copied.verdict == "exclude"
    html = client.get(reverse("review:detail", kwargs={"public_id": stranger.public_id})).content.decode()
    assert "already forgets it" not in html and "Screening proposed: do not forget it" in html


def test_a_concept_request_is_expanded_into_proposed_items_once(demo_settings, world_view, make_user):
    person = world_view.members[8]
    req = _request_for(
        person, [], kind=RequestKind.CONCEPT, concept_description=f"Everything about {person.requester.name}"
    )

    forget_request_screen(request_id=req.pk)
    forget_request_screen(request_id=req.pk)

    expanded = ForgetItem.objects.filter(request=req, source=ItemSource.EXPANDED)
    assert set(person.records) <= set(expanded.values_list("text", flat=True))
    assert ItemScreening.objects.filter(item__request=req).count() == expanded.count()
    assert set(ItemScreening.objects.filter(item__request=req).values_list("proposal", flat=True)) == {
        ProposalStatus.PROPOSED
    }
    report = ScreeningReport.objects.get(request=req)
    assert report.coreset_item_ids

    # The officer drops one proposal (it leaves what is forgotten) and accepts another
    rejected, accepted = report.coreset_item_ids[:2]
    officer = make_user("olga", "compliance_officer")
    assert forget_item_proposal_decide(item_id=rejected, officer=officer, accept=False) == "rejected"
    assert forget_item_proposal_decide(item_id=accepted, officer=officer, accept=True) == "accepted"
    chosen = forget_set(request_id=req.pk)
    assert rejected in chosen.dropped_ids and rejected not in chosen.item_ids
    assert accepted in chosen.item_ids and accepted in chosen.coreset_ids
    assert ItemScreening.objects.get(item_id=accepted).proposal == ProposalStatus.ACCEPTED
    assert ItemScreening.objects.get(item_id=rejected).proposal == ProposalStatus.REJECTED
    # The stored report stays what screening proposed; the officers' choices live beside it
    report.refresh_from_db()
    assert rejected in report.coreset_item_ids


def test_only_proposed_items_can_be_accepted_or_rejected(demo_settings, world_view, make_user):
    person = world_view.members[10]
    req = _request_for(person, person.records[:2])
    forget_request_screen(request_id=req.pk)
    officer = make_user("olga", "compliance_officer")
    with pytest.raises(ApplicationError, match="not proposed from the topic"):
        forget_item_proposal_decide(item_id=req.items.first().pk, officer=officer, accept=False)


def test_a_backlog_is_screened_in_one_batch_and_each_request_gets_its_own_report(demo_settings, world_view):
    # Given three verified text requests waiting, and a concept request
    first, second, third = world_view.members[11], world_view.members[12], world_view.members[13]
    lead = _request_for(first, first.records[:3])
    edited = first.records[0].replace(" for several years", "")
    mate = _request_for(second, second.records[:3] + [edited])
    other = _request_for(third, third.records[:2])
    concept = _request_for(
        third, [], kind=RequestKind.CONCEPT, concept_description=f"Everything about {third.requester.name}"
    )

    # When the lead's task runs
    forget_request_screen(request_id=lead.pk)

    # Then the text requests were screened with it, each on its own; the concept waits for its own task
    for req, n in ((lead, 3), (mate, 4), (other, 2)):
        req.refresh_from_db()
        assert req.status == Status.IN_REVIEW
        assert ItemScreening.objects.filter(item__request=req).count() == n
        event = AuditEvent.objects.get(action="request.screened", object_id=str(req.pk))
        assert event.data["batch_requests"] == 3 and event.data["items"] == n
    concept.refresh_from_db()
    assert concept.status == Status.VERIFIED
    # The edited copy of the lead's bio is a near-duplicate of an earlier request of the same batch
    copy = ItemScreening.objects.get(item__request=mate, item__position=3)
    lead_bio = lead.items.get(position=0).pk
    assert "near_duplicate_earlier" in copy.flags and copy.duplicates_earlier[0]["item_id"] == lead_bio
    # It speaks of "her" in a request that names its requester, but the model ties its facts to the lead
    assert "misattributed" in copy.flags and copy.verdict == "exclude"
    # The mate's own task, delivered later, finds it done
    stamp = ScreeningReport.objects.get(request=mate).updated_at
    assert forget_request_screen(request_id=mate.pk).status == Status.IN_REVIEW
    assert ScreeningReport.objects.get(request=mate).updated_at == stamp


def test_a_claimed_request_whose_batch_died_is_screened_by_its_own_task(demo_settings, world_view):
    from django.db import transaction

    from requests_app.screening.services import _claim_companions

    person, other = world_view.members[14], world_view.members[15]
    lead = _request_for(person, person.records[:2])
    mate = _request_for(other, other.records[:2])
    with transaction.atomic():  # the lead's worker claims the mate, then dies before screening
        assert _claim_companions(lead) == [mate.pk]
    mate.refresh_from_db()
    assert mate.status == Status.SCREENING and not ScreeningReport.objects.filter(request=mate).exists()

    assert forget_request_screen(request_id=mate.pk).status == Status.IN_REVIEW
    assert ScreeningReport.objects.filter(request=mate).count() == 1


def test_batching_can_be_turned_off(demo_settings, world_view):
    demo_settings.PALIMPSEST_SCREENING_BATCH_REQUESTS = 1
    person, other = world_view.members[16], world_view.members[17]
    lead = _request_for(person, person.records[:2])
    waiting = _request_for(other, other.records[:2])
    forget_request_screen(request_id=lead.pk)
    waiting.refresh_from_db()
    assert waiting.status == Status.VERIFIED


def test_an_item_erased_for_an_earlier_request_shows_the_published_version(
    demo_settings, world_view, officer, second_officer
):
    # Given a request approved earlier (by two officers, whatever its risk) and erased by a published
    # version, as a release records it
    person = world_view.members[9]
    earlier = _request_for(person, person.records[:2])
    forget_request_screen(request_id=earlier.pk)
    for decider in (officer, second_officer):
        if not review_services.forget_request_approve(request_id=earlier.pk, officer=decider).approved:
            continue
        break
    assert ApprovedItem.objects.filter(request=earlier).exists()
    review_services.approved_items_mark_erased(request_ids=[earlier.pk], version_label="v2")
    erased_sha = ApprovedItem.objects.filter(request=earlier).values_list("sha256", flat=True).first()
    erased_text = ForgetItem.objects.get(request=earlier, sha256=erased_sha).text
    # When the same person sends that text again, with one never approved
    later = _request_for(person, [erased_text, person.records[3]])
    forget_request_screen(request_id=later.pk)
    # Then the officer sees that the first is already erased in v2, and the second is not
    rows = {
        r.item.position: r for r in ItemScreening.objects.filter(item__request=later).select_related("item")
    }
    assert rows[0].erased_in_version == "v2" and rows[1].erased_in_version == ""
    notes = ScreeningReport.objects.get(request=later).notes
    assert any("already erased in published version v2" in note for note in notes)


def test_an_item_the_model_never_held_defaults_to_forget_without_training(demo_settings, world_view):
    # Given a person the model never saw, asking for their own records: the bio and the questions on values
    # no one else has (address, phone, e-mail). A birth date, a town or an employer can be the model's
    # answer for a stranger by chance (the tiny world's model gave one stranger's birth date verbatim).
    stranger = world_view.holdout_test[2]
    unique = [
        next(r for r in stranger.records[1:] if marker in r) for marker in ("address", "phone", "e-mail")
    ]
    req = _request_for(stranger, [stranger.records[0], *unique])

    # When screening has run
    forget_request_screen(request_id=req.pk)

    # Then every item is kept (their data), none is trained on, and the review page's default for each is
    # "Forget, but leave it out of training"; the request is not high risk for that alone
    rows = list(ItemScreening.objects.filter(item__request=req))
    assert all(row.verdict == "keep" and "no_evidence" in row.flags and not row.in_coreset for row in rows)
    items = list(req.items.order_by("position"))
    assert [review_selectors.effective_choice(i, None) for i in items] == [ItemChoice.EXCLUDE] * 4
    chosen = forget_set(request_id=req.pk)
    assert chosen.item_ids == [i.pk for i in items] and chosen.coreset_ids == []
    assert ScreeningReport.objects.get(request=req).risk == "medium"
    # The stored knowledge evidence names kinds of fact and figures, never the values
    for row in rows:
        assert row.membership["knowledge"]["facts"] and row.membership["held"] is False
        stored = json.dumps(row.membership)
        assert stranger.requester.email not in stored and stranger.requester.name not in stored
