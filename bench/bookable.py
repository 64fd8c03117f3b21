"""Bookable time benchmark: one instrument × four weeks, for every instrument of the demo.

    .venv/bin/python -m bench.bookable [--repeats 20] [--minutes 120] [--http] [--pages]

Builds the demo on a temporary SQLite file (today's date, the demo's seed), then for every
instrument and each service mode it offers times ``bookable_time`` (the service behind
``GET /api/v1/instruments/{id}/bookable``) for the demo's first enterprise member over the
default window (now + 28 days) and a ``--minutes`` booking, ``--repeats`` times each in a fresh
session (nothing cached between calls but the holiday library and RRULE expansion, which a
server keeps too). Prints the median and p95 per call over all instruments and modes, the
slowest instrument, and how many slots and closed intervals a call returns. With ``--http`` it
also times the endpoint through the ASGI app (``TestClient``: routing, auth, validation and JSON
included; no network). With ``--pages`` it times the web pages of one week the same way, signed
in as that member: the instrument page (``GET /instruments/{id}``: facts, rules, the week's list of
bookable starts) and its calendar's ``bookable.json``. Never run by the tests.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--minutes", type=int, default=120)
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--pages", action="store_true")
    args = ap.parse_args()

    from sqlmodel import Session

    from booking_api.migrate import upgrade
    from fixtures.demo import build_demo
    from instruments.db import get_engine, utcnow
    from scheduler.booking.bookable import bookable_time

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        upgrade(url)
        engine = get_engine(url)
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        with Session(engine, expire_on_commit=False) as s:
            demo = build_demo(s, today)
            s.commit()
        member = demo.actors["member"]
        token = next(t for role, _, t in demo.tokens if role == "enterprise_member")
        cases = [(i.id, i.name, m) for i in demo.instruments for m in i.service_modes]
        times: dict[tuple[str, str], list[float]] = {}
        sizes: list[tuple[int, int, int]] = []
        now = utcnow()
        for _ in range(args.repeats):
            for inst_id, _name, mode in cases:
                with Session(engine) as s:
                    t0 = time.perf_counter()
                    r = bookable_time(s, member, inst_id, mode, duration_minutes=args.minutes, now=now)
                    times.setdefault((inst_id, mode), []).append(time.perf_counter() - t0)
                sizes.append((len(r.slots), len(r.closed), len(r.blocked)))
        flat = [t * 1000 for ts in times.values() for t in ts]
        print(
            f"demo: {len(demo.instruments)} instruments, {len(cases)} instrument × mode cases, {args.repeats} repeats"
        )
        print(
            f"bookable_time, 28 days, {args.minutes} min: median {statistics.median(flat):.1f} ms, p95 {_pct(flat, 0.95):.1f} ms, max {max(flat):.1f} ms"
        )
        (slow_id, slow_mode), slow = max(times.items(), key=lambda kv: statistics.median(kv[1]))
        slow_name = next(n for i, n, _ in cases if i == slow_id)
        print(f"slowest: {slow_name} ({slow_mode}) median {statistics.median(slow) * 1000:.1f} ms")
        print(
            f"per call: slots median {statistics.median(x[0] for x in sizes):.0f} (max {max(x[0] for x in sizes)}), "
            f"closed intervals median {statistics.median(x[1] for x in sizes):.0f}, "
            f"calls with blocked reasons {sum(1 for x in sizes if x[2])}/{len(sizes)}"
        )
        if args.http:
            from fastapi.testclient import TestClient

            from booking_api.app import create_app

            http: list[float] = []
            with TestClient(create_app(url, rate_limits=None)) as client:
                for _ in range(args.repeats):
                    for inst_id, _name, mode in cases:
                        t0 = time.perf_counter()
                        resp = client.get(
                            f"/api/v1/instruments/{inst_id}/bookable",
                            params={"service_mode": mode, "duration_minutes": args.minutes},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        http.append((time.perf_counter() - t0) * 1000)
                        assert resp.status_code == 200, resp.text
            print(
                f"GET /bookable through the app: median {statistics.median(http):.1f} ms, p95 {_pct(http, 0.95):.1f} ms"
            )
        if args.pages:
            _time_pages(url, demo, cases, args)


def _time_pages(url: str, demo, cases: list[tuple[str, str, str]], args: argparse.Namespace) -> None:
    import re

    from fastapi.testclient import TestClient

    from booking_api.app import create_app

    role, username, password = next(x for x in demo.logins if x[0] == "enterprise_member")
    pages: dict[str, list[float]] = {"page": [], "json": []}
    with TestClient(create_app(url, rate_limits=None)) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        signed_in = client.post("/login", data={"username": username, "password": password, "csrf": csrf})
        assert signed_in.status_code == 200, signed_in.text
        for _ in range(args.repeats):
            for inst_id, _name, mode in cases:
                params = {"service_mode": mode, "duration_minutes": args.minutes}
                for kind, path in (
                    ("page", f"/instruments/{inst_id}"),
                    ("json", f"/instruments/{inst_id}/bookable.json"),
                ):
                    t0 = time.perf_counter()
                    resp = client.get(path, params=params)
                    pages[kind].append((time.perf_counter() - t0) * 1000)
                    assert resp.status_code == 200, resp.text
    for kind, label in (("page", "GET /instruments/{id} (one week)"), ("json", "GET /instruments/{id}/bookable.json")):
        ms = pages[kind]
        print(f"{label}: median {statistics.median(ms):.1f} ms, p95 {_pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms")


if __name__ == "__main__":
    main()
