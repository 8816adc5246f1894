"""Gate fixtures: a job batched from approved requests of the tiny world's forgotten people, and a
candidate version of it whose weights a test chooses (the base model, the retrained one, ...)."""

import shutil
from pathlib import Path

import pytest

from requests_app.audit import Actor
from requests_app.models import Status
from requests_app.services import forget_request_transition
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from unlearn_jobs.registry.services import model_version_register_candidate


@pytest.fixture
def forgotten_requests(approve, base_version, tiny_world_retrained):
    """One approved request per person the retrained model never saw, then batched into one job."""
    requests = [approve(pid, items=8, trained=6) for pid in tiny_world_retrained.forgotten_ids]
    [job] = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    return job, requests


@pytest.fixture
def candidate(forgotten_requests, base_version, tmp_path):
    """register(model_dir) -> a candidate version of the job with those weights, its requests verifying."""
    job, requests = forgotten_requests

    def register(model_dir: Path):
        artifact = tmp_path / f"artifact-{model_dir.name}"
        shutil.copytree(model_dir, artifact)
        version = model_version_register_candidate(
            job=job,
            parent=base_version,
            strategy="incremental",
            artifact_path=artifact,
            included_request_ids=[r.pk for r in requests],
            utility_cost=0.0,
            actor=Actor.system(),
        )
        for req in requests:
            forget_request_transition(request_id=req.pk, to=Status.VERIFYING, actor=Actor.system())
        return version

    return register
