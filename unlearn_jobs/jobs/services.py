"""The operator's and the batcher's use cases: turn approved requests into jobs, cancel a job.

The worker's side (claim, progress, success, failure) is in `lifecycle.py`; recovery (reaper,
reconciler) in `recovery.py`.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from palimpsest.errors import ApplicationError
from requests_app.audit import Actor, audit_append
from requests_app.models import ForgetRequest, Status
from requests_app.review.models import ApprovedItem
from requests_app.services import apply_transition
from unlearn_jobs.jobs import config, dispatch, inputs, selectors
from unlearn_jobs.jobs.batcher import Batch, StrategyChoice, choose_strategy, estimate_tokens, plan_batches
from unlearn_jobs.jobs.lifecycle import finish_without_model, job_log
from unlearn_jobs.jobs.models import (
    FINAL_JOB_STATUSES,
    BatchReason,
    JobItem,
    JobRequest,
    JobStatus,
    UnlearnJob,
)
from unlearn_jobs.registry import selectors as registry_selectors
from unlearn_jobs.registry.models import AliasName, ModelAlias, ModelVersion, Strategy


def rebase_blocker(production: ModelVersion, base: ModelVersion | None, corpus_path: str) -> str | None:
    """Why a rebase cannot be made now (None when it can): it must train again on every erased forget
    set, so each of their trained items needs its text (kept, or found in the training corpus)."""
    if base is None:
        return "no base model in the registry"
    carried = ApprovedItem.objects.filter(
        request__in=production.included_requests.all(), in_coreset=True
    ).select_related("item")
    missing = inputs.missing_texts(list(carried), inputs.load_corpus(corpus_path))
    return f"{missing} erased trained item(s) have no text left" if missing else None


def strategy_for(production: ModelVersion, engine: dict) -> StrategyChoice:
    configured = config.configured_strategy()
    base = registry_selectors.base_version()
    wants_rebase = configured != "incremental" and production.strategy != Strategy.BASE
    return choose_strategy(
        configured=configured,
        production_depth=0 if production.strategy == Strategy.BASE else production.incremental_depth,
        utility_spent=production.utility_spent,
        budget=settings.PALIMPSEST_UNLEARN_UTILITY_BUDGET,
        max_incremental=settings.PALIMPSEST_UNLEARN_MAX_INCREMENTAL,
        rebase_blocker=rebase_blocker(production, base, engine["retain_corpus"]) if wants_rebase else None,
    )


def _add_items(job: UnlearnJob, request_ids: list[int], *, carried: bool) -> None:
    JobRequest.objects.bulk_create(JobRequest(job=job, request_id=r, carried=carried) for r in request_ids)
    JobItem.objects.bulk_create(
        JobItem(job=job, approved_item=a, trained=a.in_coreset, carried=carried)
        for a in ApprovedItem.objects.filter(request_id__in=request_ids)
    )


def _create_job(
    batch: Batch, *, production: ModelVersion, engine: dict, actor: Actor, user
) -> UnlearnJob | None:
    """One job from one planned batch, with the requests that are still approved (locked here)."""
    requests = list(
        ForgetRequest.objects.select_for_update().filter(pk__in=batch.request_ids, status=Status.APPROVED)
    )
    if not requests:
        return None
    choice = strategy_for(production, engine)
    rebase = choice.strategy == Strategy.REBASE
    parent = registry_selectors.base_version() if rebase else production
    job = UnlearnJob.objects.create(
        status=JobStatus.QUEUED,
        max_attempts=settings.PALIMPSEST_UNLEARN_MAX_ATTEMPTS,
        method=engine["method"],
        mode=engine["mode"],
        strategy=choice.strategy,
        strategy_reason=choice.reason[:255],
        reason=batch.reason,
        engine_settings=engine,
        parent_version=parent,
        created_by=user,
        dispatched_at=timezone.now(),  # sent after the commit; the reconciler resends a lost send
    )
    own = [r.pk for r in requests]
    _add_items(job, own, carried=False)
    if rebase:
        carried = [r for r in registry_selectors.included_request_ids(production) if r not in own]
        _add_items(job, carried, carried=True)
    trained = JobItem.objects.filter(job=job, trained=True)
    job.forget_items = JobItem.objects.filter(job=job).count()
    job.trained_items = trained.count()
    job.trained_tokens = estimate_tokens(
        sum(trained.values_list("approved_item__item__char_count", flat=True))
    )
    job.save(update_fields=["forget_items", "trained_items", "trained_tokens"])
    for req in requests:
        apply_transition(
            req, to=Status.UNLEARNING, actor=actor, action="unlearn_job.batched", data={"job_id": job.pk}
        )
    job_log(
        job,
        f"batched {len(own)} request(s) ({batch.reason}): {job.forget_items} items to forget, "
        f"{job.trained_items} to train on; {choice.strategy} from v{parent.number} ({choice.reason})",
    )
    audit_append(
        actor=actor,
        action="unlearn_job.created",
        obj=job,
        data={
            "trigger": batch.reason,
            "strategy": choice.strategy,
            "parent_id": parent.pk,
            "requests": own,
            "forget_items": job.forget_items,
            "trained_items": job.trained_items,
        },
    )
    transaction.on_commit(lambda: dispatch.send_run(job.pk))
    return job


@transaction.atomic
def unlearn_jobs_batch(
    *, actor: Actor, manual: bool = False, user=None, now: datetime | None = None
) -> list[UnlearnJob]:
    """Make the jobs the batching rules call for (`manual`: an operator's "batch now", which batches
    whatever waits, held requests included). Refused with a reason an operator can act on."""
    now = now or timezone.now()
    # One batcher at a time: the production alias row is the lock (beat and "batch now" may race).
    production_alias = ModelAlias.objects.select_for_update().filter(name=AliasName.PRODUCTION).first()
    if production_alias is None:
        if manual:
            raise ApplicationError("No model is published yet: register the base model first.")
        return []
    engine = config.engine_settings()
    active = list(selectors.active_jobs().values_list("pk", flat=True))
    slots = settings.PALIMPSEST_BATCH_MAX_ACTIVE_JOBS - len(active)
    if slots <= 0:
        if manual:
            raise ApplicationError(
                f"Job {active[0]} is still queued or running, and at most "
                f"{settings.PALIMPSEST_BATCH_MAX_ACTIVE_JOBS} may be at a time: wait for it or cancel it."
            )
        return []
    candidates = selectors.batch_candidates(max_failures=settings.PALIMPSEST_BATCH_MAX_REQUEST_FAILURES)
    if manual and not candidates:
        raise ApplicationError("No approved request is waiting for a job.")
    policy = config.batch_policy(seconds_per_item=selectors.observed_seconds_per_item())
    batches = plan_batches(
        candidates,
        now=now,
        policy=policy,
        slots=slots,
        backlog=selectors.backlog(now=now, policy=policy),
        manual=manual,
    )
    jobs = []
    for batch in batches:
        job = _create_job(batch, production=production_alias.version, engine=engine, actor=actor, user=user)
        if job is not None:
            jobs.append(job)
    return jobs


@transaction.atomic
def unlearn_job_cancel(*, job_id: int, actor: Actor) -> UnlearnJob:
    """A queued job ends at once; a running one stops at its next logged step (the worker sees the
    request), or at the reaper if its worker is gone. Its requests go back to `approved`."""
    job = UnlearnJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise ApplicationError("No such job.")
    if job.status in FINAL_JOB_STATUSES:
        raise ApplicationError(
            f"Job {job.pk} has already {job.get_status_display().lower()}; nothing to cancel."
        )
    if job.status == JobStatus.QUEUED:
        return finish_without_model(job, status=JobStatus.CANCELLED, actor=actor)
    if job.cancel_requested_at is None:
        job.cancel_requested_at = timezone.now()
        job.save(update_fields=["cancel_requested_at", "updated_at"])
        job_log(job, "cancellation requested: the worker stops at its next logged step")
        audit_append(
            actor=actor, action="unlearn_job.cancel_requested", obj=job, data={"attempt": job.attempt}
        )
    return job


def stronger_settings(engine: dict, failed_checks: list[str], retry: int) -> dict:
    """The settings of a retry after a failed verification. It did not forget enough: twice the steps
    (and, from the second retry, twice the learning rate). It forgot but cost too much utility: half the
    learning rate."""
    adjusted = dict(engine)
    if any(not check.startswith("utility/") for check in failed_checks):
        if adjusted.get("max_steps"):
            adjusted["max_steps"] = adjusted["max_steps"] * 2
        else:
            adjusted["epochs"] = (adjusted.get("epochs") or 1) * 2
            if adjusted.get("min_steps"):  # a small job trains its floor: that doubles too
                adjusted["min_steps"] = adjusted["min_steps"] * 2
        if retry >= 2:
            adjusted["learning_rate"] = adjusted["learning_rate"] * 2
    else:
        adjusted["learning_rate"] = adjusted["learning_rate"] / 2
    return adjusted


@transaction.atomic
def unlearn_job_retry_after_verification(
    *, job_id: int, failed_checks: list[str], actor: Actor
) -> UnlearnJob | None:
    """The job's model failed verification (its requests are `approved` again): a new job for the same
    requests with stronger settings, up to PALIMPSEST_VERIFICATION_MAX_RETRIES. After that, None: the
    requests wait, the reason is on the job page, and only an operator's "batch now" takes them."""
    job = UnlearnJob.objects.select_for_update().get(pk=job_id)
    retry = job.verification_retry + 1
    failed = ", ".join(failed_checks) or "no check named"
    if retry > settings.PALIMPSEST_VERIFICATION_MAX_RETRIES:
        job.error = f"Verification failed ({failed}) and the {retry - 1} retries allowed are spent."
        job.save(update_fields=["error", "updated_at"])
        job_log(job, job.error + " The requests are approved again and wait for an operator.")
        audit_append(
            actor=actor,
            action="unlearn_job.retries_spent",
            obj=job,
            data={"failed_checks": failed_checks, "retries": retry - 1},
        )
        return None
    production = ModelAlias.objects.select_for_update().get(name=AliasName.PRODUCTION).version
    own = tuple(JobRequest.objects.filter(job=job, carried=False).values_list("request_id", flat=True))
    batch = Batch(
        request_ids=own,
        reason=BatchReason.VERIFICATION,
        items=job.forget_items,
        trained_items=job.trained_items,
        trained_tokens=job.trained_tokens,
        expected_seconds=0.0,
    )
    engine = stronger_settings(job.engine_settings, failed_checks, retry)
    new = _create_job(batch, production=production, engine=engine, actor=actor, user=None)
    if new is None:
        return None
    new.retry_of, new.verification_retry = job, retry
    new.save(update_fields=["retry_of", "verification_retry"])
    job_log(job, f"verification failed ({failed}): retried as job {new.pk} with stronger settings")
    job_log(new, f"retry {retry} of job {job.pk}, whose model failed verification ({failed})")
    return new
