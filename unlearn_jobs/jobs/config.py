"""The job settings read from Django settings: the engine settings frozen into a job when it is made,
the batching policy, and the retry backoff."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings

from palimpsest.errors import ApplicationError
from unlearn_jobs.engine import METHODS
from unlearn_jobs.engine.spec import MODES, PRECISIONS
from unlearn_jobs.jobs.batcher import BatchPolicy

STRATEGIES = ("auto", "incremental", "rebase")


def retain_corpus_path() -> str:
    """The texts retain data is chosen from, and lost texts of erased requests are recovered from: the
    training corpus of the published model."""
    configured = settings.PALIMPSEST_UNLEARN_RETAIN_CORPUS or settings.PALIMPSEST_SCREENING_CORPUS
    if configured:
        return str(Path(configured).resolve())
    return str((Path(settings.PALIMPSEST_DEMO_ROOT) / "world" / "train.jsonl").resolve())


def engine_settings() -> dict:
    """A snapshot of the engine settings for a new job; refused (400) when they cannot make a job."""
    method = settings.PALIMPSEST_UNLEARN_METHOD
    if method not in METHODS:
        raise ApplicationError(
            f"PALIMPSEST_UNLEARN_METHOD is {method!r}; choose one of {', '.join(sorted(METHODS))}."
        )
    try:
        METHODS[method].config_cls(**settings.PALIMPSEST_UNLEARN_METHOD_CONFIG)
    except (TypeError, ValueError) as error:
        raise ApplicationError(f"PALIMPSEST_UNLEARN_METHOD_CONFIG does not fit {method}: {error}") from None
    if settings.PALIMPSEST_UNLEARN_MODE not in MODES:
        raise ApplicationError(f"PALIMPSEST_UNLEARN_MODE must be one of {', '.join(MODES)}.")
    if settings.PALIMPSEST_UNLEARN_PRECISION not in PRECISIONS:
        raise ApplicationError(f"PALIMPSEST_UNLEARN_PRECISION must be one of {', '.join(PRECISIONS)}.")
    processes = configured_processes()
    max_steps = settings.PALIMPSEST_UNLEARN_MAX_STEPS
    rise = settings.PALIMPSEST_UNLEARN_MAX_RETAIN_NLL_RISE
    return {
        "method": method,
        "method_config": dict(settings.PALIMPSEST_UNLEARN_METHOD_CONFIG),
        "mode": settings.PALIMPSEST_UNLEARN_MODE,
        "learning_rate": settings.PALIMPSEST_UNLEARN_LEARNING_RATE,
        "max_steps": max_steps if max_steps > 0 else None,
        "epochs": None if max_steps > 0 else settings.PALIMPSEST_UNLEARN_EPOCHS,
        "min_steps": 0 if max_steps > 0 else max(0, settings.PALIMPSEST_UNLEARN_MIN_STEPS),
        "forget_batch_size": settings.PALIMPSEST_UNLEARN_FORGET_BATCH_SIZE,
        "retain_batch_size": settings.PALIMPSEST_UNLEARN_RETAIN_BATCH_SIZE,
        "max_length": settings.PALIMPSEST_UNLEARN_MAX_LENGTH,
        "seed": settings.PALIMPSEST_UNLEARN_SEED,
        "device": settings.PALIMPSEST_UNLEARN_DEVICE,
        "precision": settings.PALIMPSEST_UNLEARN_PRECISION,
        "processes": processes,
        "checkpoint_every": settings.PALIMPSEST_UNLEARN_CHECKPOINT_EVERY,
        "log_every": settings.PALIMPSEST_UNLEARN_LOG_EVERY,
        "max_retain_nll_rise": rise if rise > 0 else None,
        "retain_per_item": settings.PALIMPSEST_UNLEARN_RETAIN_PER_ITEM,
        "retain_random_share": min(1.0, max(0.0, settings.PALIMPSEST_UNLEARN_RETAIN_RANDOM_SHARE)),
        "retain_max": settings.PALIMPSEST_UNLEARN_RETAIN_MAX,
        "retain_corpus": retain_corpus_path(),
    }


def configured_processes() -> int | str:
    """PALIMPSEST_UNLEARN_PROCESSES as a job keeps it: a count, or `auto` (the worker that runs the job
    resolves it to its CUDA devices)."""
    raw = str(settings.PALIMPSEST_UNLEARN_PROCESSES).strip().lower()
    if raw == "auto":
        return raw
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise ApplicationError(
            f"PALIMPSEST_UNLEARN_PROCESSES must be auto or a whole number of at least 1, not {raw!r}."
        )
    return count


def configured_strategy() -> str:
    strategy = settings.PALIMPSEST_UNLEARN_STRATEGY
    if strategy not in STRATEGIES:
        raise ApplicationError(f"PALIMPSEST_UNLEARN_STRATEGY must be one of {', '.join(STRATEGIES)}.")
    return strategy


def batch_policy(*, seconds_per_item: float | None = None) -> BatchPolicy:
    """The configured policy; `seconds_per_item` measured on recent jobs replaces the configured one."""
    return BatchPolicy(
        min_items=settings.PALIMPSEST_BATCH_MIN_ITEMS,
        min_tokens=settings.PALIMPSEST_BATCH_MIN_TOKENS,
        max_items=settings.PALIMPSEST_BATCH_MAX_ITEMS,
        max_tokens=settings.PALIMPSEST_BATCH_MAX_TOKENS,
        max_wait=timedelta(seconds=settings.PALIMPSEST_BATCH_MAX_WAIT_SECONDS),
        deadline_margin=timedelta(seconds=settings.PALIMPSEST_BATCH_DEADLINE_MARGIN_SECONDS),
        job_overhead=timedelta(seconds=settings.PALIMPSEST_BATCH_JOB_OVERHEAD_SECONDS),
        seconds_per_item=seconds_per_item or settings.PALIMPSEST_BATCH_SECONDS_PER_ITEM,
        verification=timedelta(seconds=settings.PALIMPSEST_BATCH_VERIFICATION_SECONDS),
    )


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff after the given failed attempt (1-based), capped."""
    base = settings.PALIMPSEST_UNLEARN_RETRY_BACKOFF_SECONDS
    cap = settings.PALIMPSEST_UNLEARN_RETRY_BACKOFF_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def job_dir(job_id: int) -> Path:
    return Path(settings.PALIMPSEST_STORAGE).resolve() / "jobs" / f"job-{job_id}"
