"""Hostile inputs against the HTTP API: how long each takes to be answered, and with what.

    .venv/bin/python -m bench.hostile_inputs [--timeout 60] [--rows 300000]

Each case runs in a child process on a fresh SQLite database (the test world of ``tests.world``)
through ``TestClient``, so router-level limits count; a case still running after ``--timeout``
seconds is killed and reported as such. The rate limit is off (it is not what is measured).
Cases: an .ics import with ``FREQ=SECONDLY`` from 1970 and with ``FREQ=DAILY`` from 1900, a
public availability query of an instrument with a stored opening rule that never occurs
(``BYMONTH=2;BYMONTHDAY=30``), and a usage CSV of ``--rows`` rows. Never run by tests.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from datetime import date, datetime, timedelta

CASES = ("ics_secondly_1970", "ics_daily_1900", "never_occurring_rule", "csv_rows")


def _calendar(dtstart: str, rule: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:x@bench\r\nSUMMARY:x\r\n"
        f"DTSTART:{dtstart}\r\nDURATION:PT1S\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def _case(name: str, rows: int, out: mp.Queue) -> None:
    os.environ["LABSHARE_RATE_LIMIT_ENABLED"] = "false"
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from booking_api.app import create_app
    from booking_api.migrate import upgrade
    from instruments.availability import OpeningRule
    from instruments.db import get_engine
    from tests.world import build_world

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    with Session(get_engine(url), expire_on_commit=False) as s:
        world = build_world(s, today=date(2026, 12, 7))
        s.commit()
    auth = {"Authorization": f"Bearer {world.tokens['manager']}"}
    inst = world.xrd.id
    with TestClient(create_app(url), raise_server_exceptions=False) as c:
        t0 = time.perf_counter()
        if name.startswith("ics_"):
            data = (
                _calendar("19700101T000000Z", "FREQ=SECONDLY")
                if name == "ics_secondly_1970"
                else _calendar("19000101T000000Z", "FREQ=DAILY")
            )
            r = c.post(
                f"/api/v1/instruments/{inst}/blackouts/import",
                content=data,
                params={"dry_run": "true"},
                headers={**auth, "Content-Type": "text/calendar"},
            )
        elif name == "never_occurring_rule":
            with Session(get_engine(url)) as s:  # stored before creation refused it
                s.add(
                    OpeningRule(
                        instrument_id=inst,
                        rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                        start_time=datetime(2000, 1, 1, 9).time(),
                        end_time=datetime(2000, 1, 1, 17).time(),
                        valid_from=date(2026, 1, 1),
                    )
                )
                s.commit()
            t0 = time.perf_counter()
            start = datetime(2027, 1, 4, 0, 0).isoformat() + "+08:00"
            end = (datetime(2027, 1, 4) + timedelta(days=92)).isoformat() + "+08:00"
            r = c.get(f"/api/v1/instruments/{inst}/availability", params={"start": start, "end": end})
        else:
            body = "started_at,ended_at,fee_fen\n" + "2026-03-02T09:00,2026-03-02T10:00,100\n" * rows
            t0 = time.perf_counter()
            r = c.post(
                f"/api/v1/instruments/{inst}/usage/import",
                content=body.encode(),
                headers={**auth, "Content-Type": "text/csv"},
            )
        dt = time.perf_counter() - t0
        body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
        detail = body.get("detail") or "; ".join(e["reason"] for e in body.get("errors", [])) or body.get("open", "")
        if isinstance(detail, list):
            detail = f"{len(detail)} open intervals"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((r.status_code, round(dt, 2), round(peak_mb), str(detail)[:160]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--case", choices=CASES, action="append")
    args = ap.parse_args()
    print(f"{'case':<24} {'status':>6} {'seconds':>8} {'peak MB':>8}  detail")
    for name in args.case or CASES:
        q: mp.Queue = mp.Queue()
        p = mp.get_context("fork").Process(target=_case, args=(name, args.rows, q))
        t0 = time.perf_counter()
        p.start()
        p.join(args.timeout)
        if p.is_alive():
            p.kill()
            p.join()
            print(f"{name:<24} {'-':>6} {'>' + str(int(args.timeout)):>8} {'-':>8}  still running, killed")
            continue
        if q.empty():
            print(f"{name:<24} {'?':>6} {time.perf_counter() - t0:>8.2f}  child died (exit {p.exitcode})")
            continue
        status, dt, mb, detail = q.get()
        print(f"{name:<24} {status:>6} {dt:>8} {mb:>8}  {detail}")


if __name__ == "__main__":
    main()
