"""The worker's use case in this process, on the tiny model: a job trains its coreset, registers a
candidate with a hash manifest, moves its requests to verifying and announces the candidate after commit;
a second run of the same job does nothing; a job with nothing to train hands on the parent's weights."""

import json

import pytest
import torch
from safetensors.torch import load_file

from palimpsest.hashing import sha256_file
from requests_app.audit import Actor
from requests_app.models import AuditEvent, Status
from unlearn_jobs.jobs import inputs
from unlearn_jobs.jobs.models import AttemptOutcome, JobMetric, JobStatus
from unlearn_jobs.jobs.run import unlearn_job_run
from unlearn_jobs.jobs.services import unlearn_jobs_batch
from unlearn_jobs.jobs.signals import candidate_registered
from unlearn_jobs.registry.models import ModelVersion


@pytest.fixture
def announced():
    seen = []

    def receiver(sender, version_id, **kwargs):
        seen.append(version_id)

    candidate_registered.connect(receiver)
    yield seen
    candidate_registered.disconnect(receiver)


# Committed rows: the worker's heartbeat thread reads them on a connection of its own.
@pytest.mark.django_db(transaction=True)
def test_a_job_trains_its_coreset_and_registers_one_candidate(base_version, approve, world, announced):
    # Given an approved request whose coreset is 4 of its 6 items
    req = approve(world.members()[0], trained=4)
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    # When a worker runs the job
    assert unlearn_job_run(job_id=job.pk, worker_id="w1") == "succeeded"
    # Then a candidate version exists, made from v1, whose manifest hashes every file it holds
    job.refresh_from_db()
    version = ModelVersion.objects.get(produced_by=job)
    assert (job.status, job.step, job.total_steps, job.attempt) == (JobStatus.SUCCEEDED, 8, 8, 1)
    assert (version.number, version.status, version.parent_id) == (2, "candidate", base_version.pk)
    assert list(version.included_requests.values_list("pk", flat=True)) == [req.pk]
    files = version.manifest["files"]
    assert "manifest.json" in files and "model.safetensors" in files
    for name, digest in files.items():
        assert sha256_file(version.artifact_path + "/" + name) == digest
    engine = version.manifest["engine"]
    assert engine["forget_items"]["count"] == 4 and engine["retain_items"]["count"] == 8
    assert "Question" not in json.dumps(version.manifest)  # hashes and ids, never the texts
    # And the weights moved, the requests are verifying, verification was told after the commit
    before = load_file(f"{base_version.artifact_path}/model.safetensors")
    after = load_file(f"{version.artifact_path}/model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    req.refresh_from_db()
    assert req.status == Status.VERIFYING and announced == [version.pk]
    assert list(JobMetric.objects.filter(job=job).values_list("step", flat=True)) == [2, 4, 6, 8]
    assert AuditEvent.objects.filter(action="unlearn_job.succeeded", object_id=str(job.pk)).exists()
    assert job.attempts.get().outcome == AttemptOutcome.SUCCEEDED
    # And the retain set never holds a text of anyone approved for erasure
    name = world.people[world.members()[0]]["name"].lower()
    retain = [t for t in inputs.load_corpus(job.engine_settings["retain_corpus"]).texts]
    chosen = {h for h in job.retain_hashes}
    assert chosen and not any(name in t.lower() for t in retain if inputs.text_key(t) in chosen)
    # When the same job is delivered again, nothing happens
    assert unlearn_job_run(job_id=job.pk, worker_id="w2") == "skipped"
    assert ModelVersion.objects.filter(produced_by=job).count() == 1 and job.attempts.count() == 1


# Committed rows: the worker's heartbeat thread reads them on a connection of its own.
@pytest.mark.django_db(transaction=True)
def test_nothing_to_train_hands_on_the_parents_weights(base_version, approve, world):
    approve(world.members()[1], trained=0)
    (job,) = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    assert unlearn_job_run(job_id=job.pk, worker_id="w1") == "succeeded"
    version = ModelVersion.objects.get(produced_by=job)
    assert (
        version.manifest["files"]["model.safetensors"] == base_version.manifest["files"]["model.safetensors"]
    )
    assert version.manifest["engine"] is None and version.utility_cost == 0.0
