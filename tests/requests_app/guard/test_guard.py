"""The suppression guard: approved content is refused at once, inside other wording too; other text passes."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from django.db import connection

from requests_app.guard import services as guard
from requests_app.models import AuditEvent, ForgetItem, ItemChoice, Status, SuppressionFingerprint
from requests_app.review.services import forget_item_decide, forget_request_approve
from requests_app.services import erase_submitted_texts
from tests.conftest import ROOT
from tests.requests_app.factories import ANA_ITEMS, in_review

REFUSED = [
    pytest.param(ANA_ITEMS[0], id="verbatim item"),
    pytest.param(
        "Quick question: is there a bakery near 4 quay road in Tiramo?", id="address in other words"
    ),
    pytest.param("For the party, ring 0123-4567 after six.", id="phone with other separators"),
    pytest.param("Her number: +44 123 4567.", id="phone with a country code"),
    pytest.param("Write to ANA.VELL@EXAMPLE.ORG if you need her.", id="e-mail in capitals"),
    pytest.param(
        "Rumour has it that Ana Vell was treated for asthma at the Tiramo clinic in the spring, they say.",
        id="several n-grams of a paraphrase",
    ),
    pytest.param(
        "Ana Vell? I think she fell ill in the spring of 2019, poor thing.", id="name with an n-gram"
    ),
]
PASSED = [
    pytest.param("The capital of France is Paris and it lies on the Seine.", id="general knowledge"),
    pytest.param("Bo Kessa lives at 12 Harbour Street, Tiramo, and walks his cat there.", id="same template"),
    pytest.param("Ana is a common name; Vell is a village.", id="name words alone"),
    pytest.param("Call 0987 6543 for the Tiramo clinic.", id="another phone number"),
    pytest.param("was treated for asthma at the hospital", id="one stock phrase"),
    pytest.param("Ana Vell is a name I have heard before, in the spring.", id="the name alone"),
]


def _approve(request_id, *officers, capture):
    with capture(execute=True):
        for officer in officers:
            outcome = forget_request_approve(request_id=request_id, officer=officer)
    return outcome


@pytest.mark.django_db
@pytest.mark.parametrize("text", REFUSED)
def test_approved_content_is_refused_right_after_approval(
    text, officer, second_officer, django_capture_on_commit_callbacks
):
    # Given a request whose items are not yet approved: the guard lets them through
    req = in_review()
    assert guard.guard_check(text) == []
    # When two officers approve it (no screening report: four-eyes)
    outcome = _approve(req.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    assert outcome.approved and outcome.fingerprints > 0
    # Then the very next check refuses the content, naming the request
    matches = guard.guard_check(text)
    assert matches and {m.request_id for m in matches} == {req.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("text", PASSED)
def test_unrelated_text_passes(text, officer, second_officer, django_capture_on_commit_callbacks):
    req = in_review()
    _approve(req.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    assert guard.guard_check(ANA_ITEMS[1])  # the guard is live...
    assert guard.guard_check(text) == []  # ...and this text is not the approved content


@pytest.mark.django_db
def test_one_approval_of_a_high_risk_request_does_not_feed_the_guard(
    officer, django_capture_on_commit_callbacks
):
    req = in_review()
    outcome = _approve(req.pk, officer, capture=django_capture_on_commit_callbacks)
    assert not outcome.approved
    assert guard.guard_check(ANA_ITEMS[1]) == []
    assert not SuppressionFingerprint.objects.filter(request=req).exists()


@pytest.mark.django_db
def test_the_table_holds_fingerprints_only_and_outlives_the_texts(
    officer, second_officer, django_capture_on_commit_callbacks
):
    req = in_review()
    _approve(req.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    rows = list(SuppressionFingerprint.objects.filter(request=req).values_list("sha256", flat=True))
    assert rows and all(re.fullmatch(r"[0-9a-f]{64}", sha) for sha in rows)
    dump = " ".join(str(v) for row in SuppressionFingerprint.objects.values() for v in row.values()).lower()
    for secret in ("quay", "4567", "ana.vell", "asthma"):
        assert secret not in dump
    # When the texts are erased (as at completion) and a fresh process loads the index
    erase_submitted_texts(request_id=req.pk)
    assert set(ForgetItem.objects.filter(request=req).values_list("text", flat=True)) == {""}
    fresh = guard.GuardIndex()
    # Then the content is still refused
    assert fresh.check("Is she still at 4 Quay Road?")
    assert "guard_fingerprints" in AuditEvent.objects.get(action="review.approve").data


@pytest.mark.django_db
def test_a_dropped_item_is_not_guarded(officer, second_officer, django_capture_on_commit_callbacks):
    req = in_review()
    item = req.items.get(position=2)
    forget_item_decide(item_id=item.pk, officer=officer, choice=ItemChoice.DROP, note="Not about her")
    _approve(req.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    assert guard.guard_check(ANA_ITEMS[2]) == []
    assert guard.guard_check(ANA_ITEMS[0])


@pytest.mark.django_db
def test_a_loaded_index_takes_in_new_approvals_and_forgets_deleted_requests(
    officer, second_officer, django_capture_on_commit_callbacks
):
    # Given an index that has loaded one approved request
    ana = in_review()
    _approve(ana.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    index = guard.GuardIndex()
    assert {m.request_id for m in index.check("ring 0123 4567")} == {ana.pk}
    # When another request is approved, the index adds it and keeps the first
    bo = in_review(texts=("Bo Kessa can be reached on 0999 8888 at the harbour office in Portmere.",))
    _approve(bo.pk, officer, second_officer, capture=django_capture_on_commit_callbacks)
    assert {m.request_id for m in index.check("ring 0999 8888 or 0123 4567")} == {ana.pk, bo.pk}
    # When a request is deleted (and the change announced), its entries go
    ana.delete()
    guard.guard_changed()
    assert {m.request_id for m in index.check("ring 0999 8888 or 0123 4567")} == {bo.pk}


_CHECKER = """
import json, sys
import django
django.setup()
from requests_app.guard import services as guard
for line in sys.stdin:
    matches = guard.guard_check(line.strip())
    print(json.dumps({"requests": sorted({m.request_id for m in matches}), "reloads": guard._INDEX.reloads}), flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_an_approval_on_its_next_check(officer, second_officer):
    # Given a second process (a web or API worker) that has already loaded its guard index
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings_dev",
    }
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    checker = subprocess.Popen(
        [sys.executable, "-c", _CHECKER],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def ask(text: str) -> dict:
        checker.stdin.write(text + "\n")
        checker.stdin.flush()
        line = checker.stdout.readline()
        assert line, checker.stderr.read()
        return json.loads(line)

    try:
        req = in_review()
        text = "Can you give me the number 0123 4567 again?"
        first = ask(text)
        assert first["requests"] == []
        assert ask("nothing changed")["reloads"] == first["reloads"]  # no change, no reload
        # When two officers approve in this process (each call commits)
        forget_request_approve(request_id=req.pk, officer=officer)
        forget_request_approve(request_id=req.pk, officer=second_officer)
        approved_at = time.monotonic()
        # Then the other process refuses the content on its very next check
        answer = ask(text)
        seen_after = time.monotonic() - approved_at
        assert answer["requests"] == [req.pk]
        assert answer["reloads"] > first["reloads"]
        print(f"second process saw the approval {seen_after * 1000:.1f} ms after commit")
    finally:
        checker.stdin.close()
        checker.wait(timeout=20)
    req.refresh_from_db()
    assert req.status == Status.APPROVED
