"""Starting a real labshare server for a benchmark or a test: a free port, and one wait for
``/healthz`` (shared by the load, feed and fuzz benches and the ``serve`` test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(
    base: str, proc: subprocess.Popen, timeout: float = 60, on_failure: Callable[[str], object] | None = None
) -> None:
    """Poll ``base``/healthz until it answers 200. If the process exits or ``timeout`` seconds
    pass first, the process is killed and ``on_failure`` is called with the reason (it may raise,
    e.g. ``pytest.fail``); without one a ``RuntimeError`` is raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            why = "the server exited" if proc.poll() is not None else f"no answer from {base}/healthz in {timeout:g} s"
            if proc.poll() is None:
                proc.kill()
            if on_failure is not None:
                on_failure(why)
            raise RuntimeError(why)
        time.sleep(0.1)  # polling for readiness, bounded by the deadline above


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def uvicorn(
    database_url: str,
    log: IO[bytes] | int = subprocess.DEVNULL,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 60,
    root: Path = ROOT,
) -> Iterator[str]:
    """``uvicorn --factory booking_api.app:create_app`` of this checkout (or of the code in
    ``root``) on a free port of 127.0.0.1 over ``database_url``, without scheduled jobs or rate
    limits (a benchmark is one address hammering the API); yields the base URL and stops the
    server on exit."""
    port = free_port()
    env = {
        **os.environ,
        "LABSHARE_DATABASE_URL": database_url,
        "LABSHARE_RUN_JOBS": "false",
        "LABSHARE_RATE_LIMIT_ENABLED": "false",
        "PYTHONPATH": str(root),
        **(extra_env or {}),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "booking_api.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(workers), *extra_args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, proc, timeout)
        yield base
    finally:
        stop(proc)
