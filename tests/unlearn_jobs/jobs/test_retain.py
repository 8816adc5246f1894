"""A job's retain set: the trained items' look-alikes, plus a share drawn at random from the corpus so that
what else the model knows (general facts included) is kept; never an erased person's text."""

import pytest

from requests_app.audit import Actor
from unlearn_jobs.engine import select_retain
from unlearn_jobs.jobs import inputs
from unlearn_jobs.jobs.services import unlearn_jobs_batch

pytestmark = pytest.mark.django_db


def _retain(job_env, share: float):
    job_env.set(PALIMPSEST_UNLEARN_RETAIN_RANDOM_SHARE=share, PALIMPSEST_UNLEARN_RETAIN_PER_ITEM=8)
    [job] = unlearn_jobs_batch(actor=Actor.system(), manual=True)
    corpus = inputs.load_corpus(job.engine_settings["retain_corpus"])
    forget = inputs.trained_items(job, corpus)
    retain, _ = inputs.retain_items(job, forget, corpus)
    return job, forget, retain


def test_half_the_retain_set_is_drawn_at_random_and_none_is_the_erased_persons(
    job_env, base_version, approve, world
):
    person = world.members()[0]
    approve(person, items=6)
    job, forget, retain = _retain(job_env, 0.5)
    general = {r["text"] for r in world.train if r["person_id"] is None}
    own = set(world.texts_of(person))
    name = world.people[person]["name"].lower()
    # As many texts as asked, half of them the look-alikes select_retain ranks first
    assert len(retain) == 8 * len(forget) == 48
    look_alikes = select_retain(
        forget, inputs.retain_pool(inputs.load_corpus(job.engine_settings["retain_corpus"])), 24
    )
    assert [item.text for item in retain[:24]] == [item.text for item in look_alikes]
    # The random half reaches general knowledge, which look-alikes of a person's texts do not
    drawn = [item.text for item in retain[24:]]
    assert sum(text in general for text in drawn) >= 3
    assert sum(item.text in general for item in look_alikes) <= 1
    # Never the erased person's text or name, and no text twice
    assert not own & {item.text for item in retain}
    assert not any(name in item.text.lower() for item in retain)
    assert len({item.text for item in retain}) == len(retain)
    # Seeded by the job: drawn again, the same set
    assert (
        inputs.retain_items(job, forget, inputs.load_corpus(job.engine_settings["retain_corpus"]))[0]
        == retain
    )
