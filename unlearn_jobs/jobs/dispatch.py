"""Sending job messages to the broker, and reading back which jobs the broker still holds.

PostgreSQL is the source of truth: a send that fails is logged, not raised (the reconciler sends it
again), and a message that arrives twice is harmless (the worker claims the job by compare-and-set).
"""

import base64
import json
import logging
import time

from celery import current_app
from kombu.exceptions import KombuError, OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RUN_TASK = "unlearn_jobs.jobs.tasks.run_unlearn_job"
GPU_QUEUE = "gpu"
# kombu's Redis transport: a queue per priority step ("gpu", "gpu\x06\x163", ...) and, while a worker
# holds a message it has not acknowledged, the `unacked` hash.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def send_run(job_id: int) -> bool:
    """Queue run_unlearn_job(job_id) on the gpu queue; False (and a log line) when the broker is away."""
    try:
        current_app.send_task(RUN_TASK, args=[job_id], queue=GPU_QUEUE)
    except (KombuError, OperationalError, RedisError, OSError) as error:
        logger.warning("job %s: could not reach the broker (%s); the reconciler will send it", job_id, error)
        return False
    return True


def _task_and_args(raw: bytes | str) -> tuple[str, list] | None:
    try:
        message = json.loads(raw)
        if isinstance(message, list):  # unacked entries are [message, exchange, routing_key]
            message = message[0]
        task = message["headers"]["task"]
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return task, list(args)
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def queued_job_ids(*, max_unacked_age: float, queue: str = GPU_QUEUE) -> set[int] | None:
    """Ids of the jobs whose run message the broker holds: waiting in the queue, or delivered less than
    `max_unacked_age` seconds ago and not acknowledged yet (an older unacknowledged message of a queued
    job belongs to a worker that died before it claimed the job). None when the broker cannot be read
    this way (not Redis) or is unreachable."""
    if not current_app.conf.broker_url.startswith(("redis://", "rediss://")):
        return None
    try:
        with current_app.connection_for_read() as connection:
            client = connection.default_channel.client
            raw_messages = []
            for name in [queue, *(f"{queue}{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS)]:
                raw_messages += client.lrange(name, 0, -1)
            delivered = dict(client.zrange("unacked_index", 0, -1, withscores=True))
            now = time.time()  # kombu stamps deliveries with the worker's clock, not Redis's
            recent = [tag for tag, at in delivered.items() if now - at < max_unacked_age]
            if recent:
                raw_messages += [raw for raw in client.hmget("unacked", recent) if raw is not None]
    except (KombuError, OperationalError, RedisError, OSError) as error:
        logger.warning("could not read the broker's queues (%s)", error)
        return None
    held = set()
    for raw in raw_messages:
        parsed = _task_and_args(raw)
        if parsed and parsed[0] == RUN_TASK and parsed[1] and isinstance(parsed[1][0], int):
            held.add(parsed[1][0])
    return held
