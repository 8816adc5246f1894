"""Schema fuzzing: schemathesis reads /api/v1/schema/ from a live server the test starts and sends the calls
it generates to that server over HTTP, on PostgreSQL, with a staff token (review and jobs) and a generation token. No answer may
be a server error or stray from the schema, and a refused call leaves no row behind.

FUZZ_EXAMPLES sets the calls per operation and mode (50 in CI: 11 operations x 2 modes, about 1 100)."""

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation.modes import GenerationMode

from requests_app.audit import Actor
from requests_app.intake.emails import current_status_token
from requests_app.models import AuditEvent, ForgetItem, ForgetRequest
from requests_app.staff import services as staff_services
from tests.requests_app.factories import in_review, make_request
from unlearn_jobs.jobs.models import UnlearnJob
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from verification.generation.services import api_token_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("isolated_cache", "unlimited")]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
GENERATE = "/api/v1/generate"


@pytest.fixture
def unlimited(settings):
    # The API's own limits would answer nearly every call with a 429 and hide the code behind it.
    settings.PALIMPSEST_RATE_LIMITS = {
        name: (10**9, 60) for name in ("submit-ip", "submit-email", "confirm-ip", "generate-token")
    }


def rows() -> tuple[int, int, int]:
    return ForgetRequest.objects.count(), ForgetItem.objects.count(), AuditEvent.objects.count()


class Targets:
    """Real ids and tokens that generated calls are sometimes aimed at, so they reach the code behind the
    lookups. Whether a call is aimed is decided from the generated value (a failing case replays the same)."""

    def __init__(self, requests: list[ForgetRequest]):
        self.requests = requests

    def aim(self, case) -> None:
        params = case.path_parameters or {}
        generated = str(params.get("id", ""))
        choice = sum(generated.encode())
        if choice % 3 == 0:
            return  # left as generated: mostly no such object
        if case.path.startswith("/api/v1/jobs/{id}") and generated.lstrip("-").isdigit():
            jobs = list(UnlearnJob.objects.order_by("pk").values_list("pk", flat=True))
            params["id"] = jobs[choice % len(jobs)]
        elif case.path.startswith("/api/v1/forget-requests/{id}") and len(generated) == 36:
            req = self.requests[choice % len(self.requests)]
            params["id"] = str(req.public_id)
            if choice % 3 == 1:  # with its real status token
                req.refresh_from_db()
                if case.path.endswith("{id}") and isinstance(case.query, dict):
                    case.query["t"] = current_status_token(req)
                if case.path.endswith("/cancel") and isinstance(case.body, dict):
                    case.body["token"] = current_status_token(req)


def fuzz_operation(
    operation, mode: GenerationMode, *, base_url: str, targets: Targets, auth: dict, calls: Counter
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def fuzz(case):
        if mode == GenerationMode.POSITIVE:  # a schema-violating call stays as generated
            targets.aim(case)
        before = rows()
        token = auth["generate"] if case.path == GENERATE else auth["staff"]
        # Then every answer has a documented status, content type, headers and body shape
        # (positive_data_acceptance is left out: the schema cannot say that a corpus needs text)
        response = case.call_and_validate(
            base_url=base_url, headers={"Authorization": token}, excluded_checks=[positive_data_acceptance]
        )
        calls[(case.method, case.path, response.status_code)] += 1
        # And none is a server error
        assert response.status_code < 500
        # And a refused call stored nothing (a refused decision writes no audit event either)
        if response.status_code >= 400:
            assert rows() == before

    fuzz()


def test_no_generated_call_gets_a_server_error_or_strays_from_the_schema(
    live_server, make_user, job_roles, base_version, approve, world
):
    # Given staff and generation tokens, requests in several states, a job, and a request left to batch
    staff = make_user("fuzzy", "compliance_officer", "ml_operator")
    staff_key = staff_services.api_token_create(user=staff, name="fuzz")
    _, generate_key = api_token_issue(name="fuzz", user=staff)
    people = world.members()
    approve(people[0])
    unlearn_jobs_batch(actor=Actor.system(), manual=True)
    approve(people[1])
    targets = Targets([in_review(), in_review(days_left=-2), make_request(), make_request()])
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    calls, no_negative = Counter(), []
    auth = {"staff": f"Token {staff_key}", "generate": f"Bearer {generate_key}"}

    # When schemathesis sends schema-valid and schema-violating calls to every operation
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(
                    operation, mode, base_url=live_server.url, targets=targets, auth=auth, calls=calls
                )
            except Unsatisfiable:
                # Nothing to break in an operation without parameters or body (batch now)
                assert mode == GenerationMode.NEGATIVE, operation.label
                no_negative.append(operation.label)

    print(sorted(calls.items()), no_negative)
    if EXAMPLES >= 50:  # the CI figure; a quick run with fewer examples checks the answers only
        assert sum(calls.values()) >= 1000
        # And the calls got past authentication and the lookups into the code behind most operations
        answered = {(method, path) for (method, path, code), _ in calls.items() if code < 300}
        assert len(answered) >= 8, sorted(calls.items())
