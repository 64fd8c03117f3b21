"""How long the scheduled jobs stop when their leader is killed: ``labshare serve --workers 2`` on
a database, wait until one worker runs the jobs (its heartbeats in ``job_run``), ``kill -9`` it, and
time until another process runs them. The bound is the lease plus a third of it.

    .venv/bin/python -m bench.job_takeover [--database-url URL] [--lease 30] [--rounds 3]

Without ``--database-url`` a temporary SQLite database; a PostgreSQL one must be migrated and is
used as it is (its ``job_run`` rows are read, not cleaned).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from booking_api.migrate import upgrade
from instruments.db import get_engine

ROOT = Path(__file__).resolve().parents[1]


def heartbeats(url: str) -> dict[int, int]:
    with get_engine(url).connect() as conn:
        return dict(conn.execute(text("SELECT pid, runs FROM job_run WHERE job = 'heartbeat'")).all())


def poll(check, deadline: float):  # noqa: ANN001, ANN201
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if got := check():
            return got
        time.sleep(0.1)
    raise SystemExit("timed out")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url")
    ap.add_argument("--lease", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=3, help="kills, one after the other")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="takeover-")
    url = args.database_url or f"sqlite:///{tmp}/takeover.db"
    upgrade(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LABSHARE_RUN_JOBS": "true", "LABSHARE_JOB_LEASE_SECONDS": str(args.lease),
           "LABSHARE_JOBS_HEARTBEAT_SECONDS": "0.5", "PYTHONPATH": str(ROOT)}  # fmt: skip
    cmd = [sys.executable, "-m", "booking_api.cli", "serve", "--workers", "2", "--port", str(port),
           "--database-url", url, "--no-migrate"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    takeovers = []
    try:
        seen: set[int] = set()
        for _ in range(args.rounds):
            leader = poll(lambda: next((p for p in heartbeats(url) if p not in seen), None), 300)
            seen.add(leader)
            os.kill(leader, signal.SIGKILL)
            t0 = time.monotonic()
            poll(lambda: any(p not in seen for p in heartbeats(url)), 300)
            takeovers.append(round(time.monotonic() - t0, 1))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    print(json.dumps({"database": url.split("://")[0], "lease_s": args.lease, "bound_s": round(args.lease * 4 / 3, 1),
                      "takeover_s": takeovers}))  # fmt: skip


if __name__ == "__main__":
    main()
