"""POST /api/v1/generate: only with an admin-issued token, rate-limited, served by the version the
pointer file names (reloaded when publish changes it), and behind the suppression guard both ways."""

import shutil

import pytest
from django.urls import reverse

from requests_app.audit import Actor
from requests_app.guard.services import guard_add_items
from tests.requests_app.factories import make_request
from unlearn_jobs.registry.models import ModelVersion, Strategy, VersionStatus
from unlearn_jobs.registry.services import model_version_publish, model_version_transition
from verification.generation.models import ApiToken
from verification.generation.services import api_token_issue, api_token_revoke
from verification.releases.pointer import pointer_read, pointer_write

PROMPT = "She"


@pytest.fixture
def token(make_user, isolated_cache):
    _, raw = api_token_issue(name="integration", user=make_user("admin"))
    return raw


def _generate(client, raw, **body):
    return client.post(
        reverse("api-generate"),
        {"prompt": PROMPT, "max_new_tokens": 40, **body},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


def _guard(text, capture):
    req = make_request(texts=(text,))
    with capture(execute=True):
        guard_add_items(request_id=req.pk, items=[(item.pk, item.text) for item in req.items.all()])


@pytest.mark.django_db
def test_only_a_live_token_may_generate(base_version, token, make_user, client):
    assert (
        client.post(reverse("api-generate"), {"prompt": "x"}, content_type="application/json").status_code
        == 401
    )
    assert _generate(client, "plm_wrong").status_code == 401
    response = _generate(client, token)
    assert response.status_code == 200 and response.json()["model_version"] == 1
    assert isinstance(response.json()["text"], str)
    api_token_revoke(token_id=ApiToken.objects.get().pk, user=make_user("admin2"))
    assert _generate(client, token).status_code == 401


@pytest.mark.django_db
def test_input_is_bounded_and_calls_are_rate_limited(base_version, token, client, settings):
    settings.PALIMPSEST_RATE_LIMITS = {"generate-token": (4, 3600)}
    assert _generate(client, token, max_new_tokens=10_000).status_code == 400
    assert _generate(client, token, temperature=-1).status_code == 400
    assert _generate(client, token, prompt="x" * 4001).status_code == 400
    # Every call counts, the refused ones too: three so far, the limit allows four an hour
    assert _generate(client, token).status_code == 200
    refused = _generate(client, token)
    assert refused.status_code == 429 and refused.json()["retry_after"] > 0


@pytest.mark.django_db
def test_prompts_and_outputs_the_guard_matches_are_refused(
    base_version, token, client, django_capture_on_commit_callbacks
):
    # Given the greedy answer the production model gives to a prompt
    first = _generate(client, token)
    output = first.json()["text"]
    assert first.status_code == 200 and len(output.split()) >= 8, output
    # When that answer is approved for erasure, the same prompt's output is refused, without echoing it
    _guard(output, django_capture_on_commit_callbacks)
    refused = _generate(client, token)
    assert refused.status_code == 451 and refused.json()["refused"] == "output"
    assert output.strip() not in refused.content.decode()
    # And a prompt holding guarded text is refused before the model runs
    refused = _generate(client, token, prompt=f"Tell me more: {output}")
    assert refused.status_code == 451 and refused.json()["refused"] == "prompt"


@pytest.mark.django_db
def test_the_endpoint_follows_the_pointer_file(base_version, token, client, job_env, world_model_copy):
    # Given v1 served (the pointer is written from the registry on first use)
    assert _generate(client, token).json()["model_version"] == 1 and pointer_read()["version"] == 1
    # When v2 is published and the pointer moves
    v2 = ModelVersion.objects.create(
        number=2,
        parent=base_version,
        strategy=Strategy.INCREMENTAL,
        artifact_path=str(world_model_copy),
        artifact_sha256="2" * 64,
    )
    for step in (VersionStatus.VERIFIED, VersionStatus.APPROVED):
        model_version_transition(version_id=v2.pk, to=step, actor=Actor.system())
    pointer_write(version=model_version_publish(version_id=v2.pk, actor=Actor.system()))
    # Then the next call is served by v2
    assert _generate(client, token).json()["model_version"] == 2


@pytest.fixture
def world_model_copy(job_env, tiny_world):
    target = job_env.settings.PALIMPSEST_STORAGE / "versions" / "v2"
    shutil.copytree(tiny_world.model_dir, target)
    return target
