"""The whole journey, played through the product's own HTTP interfaces: demo people submit and confirm
erasure requests (one of them a poisoning attempt), screening runs, an officer decides, an operator
batches, the gate verifies, a release manager publishes, and the subjects get their certificates."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from django.test import Client

from palimpsest.demo.management.harness import Outbox, ScenarioError, browser, expect, staff
from palimpsest.jsonl import read_jsonl
from requests_app.models import ForgetRequest
from unlearn_jobs.registry.selectors import production_version

DEMO_PASSWORD = "palimpsest-demo"
POLL_SECONDS = 1.0
CERTIFICATE_URL = re.compile(r"https?://\S+/certificates/[0-9a-f-]{36}/\?t=[\w.:-]+")
# The stage a request status belongs to, in journey order: a wait is booked to the least advanced one.
STAGE_OF_STATUS = {
    "submitted": "intake",
    "verified": "screening",
    "screening": "screening",
    "in_review": "review",
    "approved": "batching",
    "unlearning": "job",
    "verifying": "verification",
    "awaiting_release": "release",
}
JOURNEY_ORDER = list(STAGE_OF_STATUS)


@dataclass
class Subject:
    """A demo person and the request they file (the poisoner files someone else's biography)."""

    person_id: str
    name: str
    email: str
    texts: list[str]
    address: str
    poisoned: bool = False
    client: Client | None = None
    public_id: str = ""
    token: str = ""
    status: str = ""
    mails: list[str] = field(default_factory=list)
    certificate: bool = False


@dataclass
class Journey:
    """What the run saw: per subject, per stage, and the figures of the gate's signed report."""

    subjects: list[Subject]
    seconds: dict[str, float] = field(default_factory=dict)
    screening: dict[str, dict] = field(default_factory=dict)
    jobs: list[int] = field(default_factory=list)
    version: int | None = None
    report: dict = field(default_factory=dict)
    published: int | None = None

    @contextmanager
    def stage(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 2)

    @property
    def genuine(self) -> list[Subject]:
        return [s for s in self.subjects if not s.poisoned]

    @property
    def poisoned(self) -> Subject:
        return next(s for s in self.subjects if s.poisoned)


def _people(world_root: Path, count: int) -> list[Subject]:
    """`count` trained people who never filed a request here, and a poisoner who files the biography of
    a further person with their own name written in."""
    world = world_root / "world"
    if not (world / "people.jsonl").is_file():
        raise ScenarioError(f"No demo world at {world_root}: run `manage.py build_demo_world` first.")
    people = [p for p in read_jsonl(world / "people.jsonl") if p["group"] == "member"]
    used = set(ForgetRequest.objects.values_list("requester_email", flat=True))
    fresh = [p for p in people if p["attributes"]["email"] not in used]
    if len(fresh) < count + 2:
        raise ScenarioError(f"Only {len(fresh)} demo people have not filed a request yet; need {count + 2}.")
    texts: dict[str, list[str]] = {}
    for record in read_jsonl(world / "train.jsonl"):
        if record.get("person_id"):
            texts.setdefault(record["person_id"], []).append(record["text"])
    chosen = [
        Subject(
            p["person_id"], p["name"], p["attributes"]["email"], texts[p["person_id"]], f"198.51.100.{i + 1}"
        )
        for i, p in enumerate(fresh[:count])
    ]
    poisoner, victim = fresh[count], fresh[count + 1]
    victim_bio = next(t for t in texts[victim["person_id"]] if t.startswith(victim["name"]))
    chosen.append(
        Subject(
            poisoner["person_id"],
            poisoner["name"],
            poisoner["attributes"]["email"],
            [victim_bio.replace(victim["name"], poisoner["name"])],
            "203.0.113.66",
            poisoned=True,
        )
    )
    return chosen


def _status(subject: Subject) -> str:
    body = expect(
        subject.client.get(f"/api/v1/forget-requests/{subject.public_id}", {"t": subject.token}),
        200,
        "status of a request",
    )
    subject.status = body["status"]
    return subject.status


def _submit(subject: Subject, outbox: Outbox) -> None:
    subject.client = browser(subject.address)
    before = outbox.mark()
    created = expect(
        subject.client.post(
            "/api/v1/forget-requests/",
            {
                "kind": "corpus",
                "name": subject.name,
                "email": subject.email,
                "jurisdiction": "DE",
                "legal_ground": "b",
                "declaration": True,
                "text": "\n\n".join(subject.texts),
            },
            content_type="application/json",
        ),
        201,
        "submitting a request",
    )
    subject.public_id = created["id"]
    code = outbox.code_for(subject.email, since=before)
    verified = expect(
        subject.client.post(
            f"/api/v1/forget-requests/{subject.public_id}/verify",
            {"code": code},
            content_type="application/json",
        ),
        200,
        "confirming the e-mail address with the code",
    )
    subject.token = parse_qs(urlparse(verified["status_url"]).query)["t"][0]
    subject.mails = [m.subject for m in outbox.to(subject.email, since=before)]


def _wait(
    journey: Journey,
    subjects: list[Subject],
    done: Callable[[str], bool],
    *,
    timeout: float,
    what: str,
    check=None,
):
    """Poll the subjects' status API until every one is done; time is booked to the stage of each status."""
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while True:
        statuses = [_status(s) for s in subjects]
        now = time.monotonic()
        slowest = min(
            statuses, key=lambda s: JOURNEY_ORDER.index(s) if s in JOURNEY_ORDER else len(JOURNEY_ORDER)
        )
        journey.add(STAGE_OF_STATUS.get(slowest, "release"), now - last)
        last = now
        if all(done(s) for s in statuses):
            return
        if check is not None:
            check(statuses)
        if now > deadline:
            raise ScenarioError(f"Timed out after {timeout:.0f} s waiting for {what}; statuses: {statuses}.")
        time.sleep(POLL_SECONDS)


def _review(journey: Journey, password: str) -> None:
    officer = staff("officer", password)
    rows = {}
    page = 1
    while True:
        body = expect(officer.get("/api/v1/review-queue/", {"page": page}), 200, "the review queue")
        rows.update({row["id"]: row for row in body["results"]})
        if page >= body["pages"]:
            break
        page += 1
    second = None
    for subject in journey.subjects:
        row = rows.get(subject.public_id)
        if row is None:
            raise ScenarioError("A screened request is missing from the review queue.")
        journey.screening[subject.public_id] = {"risk": row["risk"], "summary": row["screening"]}
        url = f"/api/v1/forget-requests/{subject.public_id}/decision"
        if subject.poisoned:
            decision = {
                "decision": "reject",
                "exception": "other",
                "reason": "The text is another person's biography with the requester's name written in.",
            }
            expect(
                officer.post(url, decision, content_type="application/json"),
                200,
                "rejecting the poisoned request",
            )
            continue
        vote = {"decision": "approve", "version": row["version"]}
        outcome = expect(officer.post(url, vote, content_type="application/json"), 200, "approving a request")
        if not outcome["approved"]:  # high risk: a second officer must approve too (four-eyes)
            second = second or staff("officer2", password)
            outcome = expect(
                second.post(url, {"decision": "approve"}, content_type="application/json"),
                200,
                "the second officer's approval",
            )
        if not outcome["approved"]:
            raise ScenarioError(f"A request is still not approved after two officers: {outcome}.")


def _jobs_of(operator: Client, public_ids: set[str]) -> list[dict]:
    body = expect(operator.get("/api/v1/jobs/"), 200, "the jobs list")
    mine = []
    for row in body["results"]:
        detail = expect(operator.get(f"/api/v1/jobs/{row['id']}"), 200, "a job's detail")
        if public_ids & {r["id"] for r in detail["included_requests"]}:
            mine.append(detail)
    return mine


def _unlearn_and_verify(journey: Journey, operator: Client, timeout: float) -> None:
    ids = {s.public_id for s in journey.genuine}
    with journey.stage("batching"):
        response = operator.post("/api/v1/jobs/")
        if response.status_code not in (201, 400):  # 400: the beat batcher took them meanwhile
            expect(response, 201, "batch now")
    idle_since = None

    def check(statuses: list[str]) -> None:
        """Fail when unlearning has stopped for good; press "batch now" again for requests left waiting
        (the beat batcher may have taken only some of them, one job at a time)."""
        nonlocal idle_since
        if "verifying" in statuses or "unlearning" in statuses:
            idle_since = None
            return
        jobs = _jobs_of(operator, ids)
        if any(j["status"] in ("queued", "running") for j in jobs):
            idle_since = None
            return
        # A job that failed for good, or whose model failed the gate with its retries spent.
        stopped = [j for j in jobs if j["status"] == "failed" or j["error"]]
        if stopped:
            raise ScenarioError(
                f"Unlearning stopped before the gate passed (job {stopped[0]['id']}): {stopped[0]['error']}"
            )
        if "approved" in statuses:
            operator.post("/api/v1/jobs/")
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 60:
            raise ScenarioError(
                "No job is queued or running and nothing is verifying, yet the requests wait."
            )

    _wait(
        journey,
        journey.genuine,
        lambda s: s == "awaiting_release",
        timeout=timeout,
        what="unlearning and verification",
        check=check,
    )
    jobs = _jobs_of(operator, ids)
    journey.jobs = sorted(j["id"] for j in jobs)
    candidates = [j for j in jobs if j["candidate_version"] is not None and j["status"] == "succeeded"]
    journey.version = max(j["candidate_version"] for j in candidates)


def _release(journey: Journey, password: str) -> None:
    manager = staff("release", password)
    number = journey.version
    expect(manager.get(f"/releases/v{number}/"), 200, "the release page")
    download = expect(manager.get(f"/verification/v{number}/report.json"), 200, "the signed report")
    journey.report = download["document"]
    for action in ("approve", "publish"):
        response = manager.post(f"/releases/v{number}/{action}", {"comment": "Demo scenario: report read."})
        if response.status_code != 302:
            text = response.content.decode(errors="replace")
            raise ScenarioError(
                f"The release manager could not {action} v{number}: HTTP {response.status_code} {text[:300]}"
            )
    journey.published = production_version().number


def _certificates(journey: Journey, outbox: Outbox) -> None:
    for subject in journey.genuine:
        mails = [m for m in outbox.to(subject.email) if "complete" in m.subject.lower()]
        subject.mails = subject.mails + [m.subject for m in mails]
        if not mails:
            raise ScenarioError("A subject received no completion e-mail with a certificate.")
        link = CERTIFICATE_URL.search(mails[-1].body)
        if link is None:
            raise ScenarioError("The completion e-mail carries no certificate link.")
        parsed = urlparse(link.group(0))
        page = subject.client.get(parsed.path, dict(parse_qs(parsed.query)))
        subject.certificate = page.status_code == 200


def preflight(*, world_root: Path, requests: int) -> tuple[Outbox, list[Subject]]:
    """What the journey needs before anything starts: a model in production, the demo world with enough
    people who never filed a request here, and an outbox the scenario can read."""
    if production_version() is None:
        raise ScenarioError("No model version is in production: run `manage.py build_demo_world` first.")
    return Outbox(), _people(world_root, requests)


def run_scenario(
    *,
    world_root: Path,
    requests: int,
    say: Callable[[str], None],
    timeout: float = 3600.0,
    password: str = DEMO_PASSWORD,
) -> Journey:
    """Play the journey; raises ScenarioError at the first step that does not do what it should."""
    outbox, subjects = preflight(world_root=world_root, requests=requests)
    journey = Journey(subjects)
    try:
        say(f"{requests} demo people file erasure requests of their own texts; one more files a poisoned one")
        with journey.stage("intake"):
            for subject in journey.subjects:
                _submit(subject, outbox)
        say("all confirmed their e-mail with the code from the outbox; screening runs on the cpu queue")
        _wait(journey, journey.subjects, lambda s: s == "in_review", timeout=timeout, what="screening")
        say("screening done; the officer decides")
        with journey.stage("review"):
            _review(journey, password)
        say("the operator batches the approved requests (batch now); a job unlearns on the gpu queue")
        operator = staff("operator", password)
        _unlearn_and_verify(journey, operator, timeout)
        say(f"the gate passed v{journey.version}; the release manager approves and publishes it")
        with journey.stage("release"):
            _release(journey, password)
            _wait(journey, journey.genuine, lambda s: s == "completed", timeout=60, what="completion")
            _status(journey.poisoned)
            _certificates(journey, outbox)
    except ScenarioError as error:
        error.seconds = dict(journey.seconds)  # how far it got, for the summary of a failed run
        raise
    say(f"v{journey.published} is in production; the subjects have their certificates")
    return journey
