"""End to end on the tiny demo world: the real screening stage fills the report, an officer reads it and
approves, and the guard then refuses that person's records and lets another person's through."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from requests_app.guard import services as guard
from requests_app.models import ForgetRequest, ScreeningReport, Status
from requests_app.review.policy import FOUR_EYES_RISKS
from requests_app.screening.services import forget_request_screen
from tests.requests_app.factories import make_request


def _records(world, person_id: str) -> list[str]:
    bios = [b["text"] for b in world.bios if b["person_id"] == person_id]
    answers = [
        q["prompt"] + q["completion"]
        for q in world.qa
        if q["person_id"] == person_id and q["split"] == "train"
    ]
    return bios + answers


@pytest.mark.slow
@pytest.mark.django_db
def test_a_screened_request_is_reviewed_approved_and_guarded(
    settings, tiny_world, client, officer, second_officer, django_capture_on_commit_callbacks
):
    # Given a verified request from a person of the demo world, screened by the real screening stage
    settings.PALIMPSEST_DEMO_ROOT = tiny_world.root
    settings.PALIMPSEST_BASE_MODEL = tiny_world.model_dir
    world = tiny_world.load_world()
    people = {p["person_id"]: p for p in world.people}
    member = tiny_world.member_ids()[3]
    records = _records(world, member)[:5]
    now = timezone.now()
    req = make_request(
        status=Status.VERIFIED,
        texts=tuple(records),
        requester_name=people[member]["name"],
        requester_email=people[member]["attributes"]["email"],
        verified_at=now,
        original_due_at=now + timedelta(days=30),
        due_at=now + timedelta(days=30),
    )
    assert forget_request_screen(request_id=req.pk).status == Status.IN_REVIEW
    report = ScreeningReport.objects.get(request=req)

    # When the officer opens it, the report's risk and reasons are there in plain words
    client.force_login(officer)
    html = client.get(reverse("review:detail", kwargs={"public_id": req.public_id})).content.decode()
    assert report.get_risk_display() in html
    for reason in report.reasons:
        assert reason.replace("'", "&#x27;") in html
    # with what the published model showed for each item
    assert html.count("Published model: <strong>the model reproduces this</strong>") >= 1
    assert html.count("Published model: <strong>") == len(records)

    # And the officers approve it (two of them when screening says high risk)
    url = reverse("api-forget-request-decision", kwargs={"id": req.public_id})
    with django_capture_on_commit_callbacks(execute=True):
        body = client.post(url, {"decision": "approve"}, content_type="application/json").json()
        if report.risk in FOUR_EYES_RISKS:
            assert body["approved"] is False
            client.force_login(second_officer)
            body = client.post(url, {"decision": "approve"}, content_type="application/json").json()
    assert body["status"] == "approved"
    assert ForgetRequest.objects.get(pk=req.pk).status == Status.APPROVED

    # Then the guard refuses the person's approved records and passes another person's
    kept = set(report.forget_set_item_ids) or {i.pk for i in req.items.all()}
    kept_texts = [i.text for i in req.items.filter(pk__in=kept)]
    assert kept_texts
    for text in kept_texts:
        assert {m.request_id for m in guard.guard_check(text)} == {req.pk}
    bio = records[0]
    assert bio in kept_texts
    passage = " ".join(bio.split()[:12])  # its first sentence: name, birth date, town; no strong value
    kinds = {m.kind for m in guard.guard_check(f"I once read that {passage}, or so the story goes.")}
    assert kinds == {"ngram", "name"}  # enough shared n-grams on their own, and the name with them
    attributes = people[member]["attributes"]
    born = attributes["birth_date"]
    assert [m.kind for m in guard.guard_check(f"{people[member]['name']} was born on {born}.")] == ["name"]
    assert guard.guard_check(f"Have you heard of {people[member]['name']}?") == []
    assert guard.guard_check(
        f"Try {attributes['phone']} tomorrow, or write to {attributes['email'].upper()}."
    )
    # No record of any other person in the world is mistaken for this one's (templated wording alike)
    others = [t for pid in people if pid not in (member,) for t in _records(world, pid)]
    refused = [t for t in others if guard.guard_check(t)]
    assert len(others) > 100 and refused == []
