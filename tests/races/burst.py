"""Run one call from many threads at once: each thread waits at a barrier, then calls.

Every wait is bounded (barrier, join), so a deadlock fails the test instead of hanging it. Each
thread brings its own HTTP client (and so its own database session per request); tests assert
invariants of the outcome, never which thread won.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

CLIENTS = 20
TIMEOUT = 120.0


def burst(call: Callable[[int], Any], n: int = CLIENTS, timeout: float = TIMEOUT) -> list[Any]:
    """``call(i)`` for i in 0..n-1, all released together; the results in order of i."""
    barrier = threading.Barrier(n, timeout=timeout)

    def run(i: int) -> Any:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(run, i) for i in range(n)]
        return [f.result(timeout=timeout) for f in futures]


def http_burst(
    app: FastAPI, request: Callable[[TestClient, int], Any], n: int = CLIENTS, timeout: float = TIMEOUT
) -> list[Any]:
    """Like ``burst``, each thread with its own TestClient on the one app."""
    clients = [TestClient(app, raise_server_exceptions=False) for _ in range(n)]
    return burst(lambda i: request(clients[i], i), n, timeout)


def statuses(responses: list[Any]) -> Counter:
    return Counter(r.status_code for r in responses)
