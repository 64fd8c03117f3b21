"""``labshare serve --workers 2``: real processes on one database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set). The scheduled jobs run in exactly one worker (every heartbeat run is
counted in ``job_run`` under its pid); ``kill -9`` that worker and another process takes the jobs
over within the lease (set short here). Polls with generous deadlines, never fixed sleeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from scheduler.jobs import JobRun

from .test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds; far beyond what the lease and heartbeat below need, on a busy machine

pytestmark = pytest.mark.xdist_group("serve_workers")  # a heavy test: its own xdist worker


def wait_for(what: str, check: Callable[[], object], deadline: float = DEADLINE) -> object:
    end = time.monotonic() + deadline
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.2)  # polling, bounded by the deadline


def children(pid: int) -> set[int]:
    """uvicorn's live worker processes under ``pid`` (Linux /proc; multiprocessing's resource
    tracker, also a child, is left out)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            out.add(int(stat.parent.name))
    return out


@pytest.fixture
def workers(db, tmp_path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    env = {
        **os.environ,
        "LABSHARE_RUN_JOBS": "true",
        "LABSHARE_JOB_LEASE_SECONDS": "10",  # renewed every 3.3 s: takeover within 13.3 s
        "LABSHARE_JOBS_HEARTBEAT_SECONDS": "0.5",
        "LABSHARE_TIMEOUT_GRACEFUL_SHUTDOWN": "1",
        "PYTHONPATH": str(ROOT),
        # under libfaketime (make test-future) the workers keep the real monotonic clock: with a
        # faked one, their threads' timed waits (APScheduler's) sleep for the whole offset
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    cmd = [sys.executable, "-m", "booking_api.cli", "serve", "--workers", "2", "--port", str(port)]
    cmd += ["--database-url", db.url, "--no-migrate"]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the server stopped: {(tmp_path / 'serve.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for("the server answers", up, deadline=180)  # two processes importing the app on a busy machine
        yield proc, port
    finally:
        for pid in children(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait(10)
        log.close()


def heartbeats(db) -> dict[int, int]:
    """Runs of the heartbeat job per pid, as the job itself recorded them."""
    with db.session() as s:
        return {r.pid: r.runs for r in s.exec(select(JobRun).where(JobRun.job == "heartbeat")).all()}


def test_jobs_run_in_exactly_one_worker_and_another_takes_over_after_kill_9(db, workers):
    proc, port = workers
    assert len(wait_for("two workers", lambda: len(children(proc.pid)) == 2 and children(proc.pid))) == 2
    # the jobs run, in one worker: a dozen heartbeats, every one from the same pid
    runs = wait_for("a dozen heartbeats", lambda: (h := heartbeats(db)) and max(h.values()) >= 12 and h)
    assert len(runs) == 1, runs
    leader = next(iter(runs))
    assert leader in children(proc.pid)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

    os.kill(leader, signal.SIGKILL)
    killed_at = time.monotonic()
    new = wait_for("another process runs the jobs", lambda: {p: n for p, n in heartbeats(db).items() if p != leader})
    took = time.monotonic() - killed_at
    assert took < DEADLINE
    successor = next(iter(new))
    # and then only the successor runs them: it goes on counting, the dead leader's count stays
    before = heartbeats(db)
    after = wait_for("the successor goes on", lambda: (h := heartbeats(db)).get(successor, 0) >= before[successor] + 6 and h)
    assert set(after) == {leader, successor}, after
    assert after[leader] == before[leader]
    assert successor in children(proc.pid)  # a worker (the other one, or the one uvicorn restarted)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
