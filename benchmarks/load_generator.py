"""A closed-loop HTTP load generator on loopback (standard library only, so it runs in its own process):
`clients` threads each send one request, wait for the answer, and send the next, for `seconds`."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    started: float  # seconds since the run began
    latency: float  # seconds
    status: int  # 0: the connection failed
    created_id: str  # the id a 201 answered with


def call_once(*, host: str, port: int, method: str, path: str, body: str, headers: dict) -> Call:
    """One call on a new connection (gunicorn's sync workers close each one); `started` is perf_counter."""
    started = time.perf_counter()
    status, created = 0, ""
    try:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request(method, path, body=body.encode() if body else None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        status = response.status
        connection.close()
        if status == 201:
            created = json.loads(payload)["id"]
    except (OSError, http.client.HTTPException, ValueError):
        pass
    return Call(started, time.perf_counter() - started, status, created)


def run(
    *, host: str, port: int, method: str, path: str, body_template: str, headers: dict, clients: int,
    seconds: float,
) -> list[Call]:  # fmt: skip
    """`body_template` may hold "{n}", replaced by a number unique to each call."""
    calls: list[Call] = []
    lock = threading.Lock()
    begin = time.perf_counter()
    stop_at = begin + seconds

    def client(index: int) -> None:
        sent = 0
        while time.perf_counter() < stop_at:
            body = body_template.replace("{n}", f"{index}x{sent}") if body_template else ""
            sent += 1
            call = call_once(host=host, port=port, method=method, path=path, body=body, headers=headers)
            with lock:
                calls.append(Call(call.started - begin, call.latency, call.status, call.created_id))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls
