"""The gate listens to the unlearning stage: a registered candidate is verified."""

from unlearn_jobs.jobs.signals import candidate_registered
from verification.gate.tasks import start_verification


def on_candidate_registered(sender, *, version_id: int, **kwargs) -> None:
    start_verification(version_id=version_id)


def connect() -> None:
    candidate_registered.connect(on_candidate_registered, dispatch_uid="verification.gate.candidate")
