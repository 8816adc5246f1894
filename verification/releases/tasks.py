"""Beat task of the release: the purge of superseded versions that still hold erased data."""

from celery import shared_task

from verification.releases.purge import model_versions_purge


@shared_task
def purge_superseded_versions() -> list[int]:
    return model_versions_purge()
