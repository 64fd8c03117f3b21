"""What one instant booking costs the server, in process and one at a time (no HTTP, no
concurrency): wall time, this process's CPU time and SQL statements per booking, and the time to
list the bookings — a measure that a busy machine disturbs less than the load bench's throughput.

    .venv/bin/python -m bench.booking_cost --database postgresql+psycopg://postgres@127.0.0.1:5432/labshare_cost
                                           [--bookings 200] [--code DIR]

Builds its own database like ``bench.booking_load`` (dropped afterwards), then books through the
app with ``TestClient``. ``--code DIR`` imports the app from another copy of the code
(``git archive 8515f15 | tar -x -C DIR``), the data still built by this checkout's bench.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.booking_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", help="PostgreSQL URL naming a database to create (default: a SQLite file)")
    p.add_argument("--bookings", type=int, default=200)
    p.add_argument("--code", metavar="DIR", help="import the app from the code in DIR")
    p.add_argument("--show", action="store_true", help="print the SQL statements of one booking after the warm-up")
    args = p.parse_args(argv)
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
        for name in [m for m in sys.modules if m.split(".")[0] in ("booking_api", "scheduler", "instruments", "solver", "fixtures")]:
            del sys.modules[name]
    spec = importlib.util.spec_from_file_location("_booking_load", HERE / "booking_load.py")
    load = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = load  # dataclasses look their module up
    spec.loader.exec_module(load)  # this checkout's data builder, whichever code serves
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from booking_api.app import create_app
    from instruments.db import get_engine

    n = args.bookings
    with load.own_database(args.database) as url:
        setup = load.build(url, 2, 2, datetime.now(load.TZ).date())
        count, seen = [0], []

        def counted(conn, cursor, statement, *_) -> None:
            count[0] += 1
            seen.append(" ".join(statement.split())[:160])

        event.listen(get_engine(url), "before_cursor_execute", counted)
        slots = list(load.slots(setup.first_day, (n + 21) // 24 + 2))
        with TestClient(create_app(url, run_jobs=False, rate_limits=None)) as api:
            member = {"Authorization": f"Bearer {setup.tokens[0]}"}
            for k in range(20):  # warm up: imports, caches, prepared statements
                r = api.post("/api/v1/bookings", json=load.body(setup.instruments[k % 2], *slots[k]), headers=member)
                assert r.status_code == 201, r.text
            if args.show:
                seen.clear()
                r = api.post("/api/v1/bookings", json=load.body(setup.instruments[1], *slots[20 + n]), headers=member)
                assert r.status_code == 201, r.text
                print(f"{len(seen)} statements of one booking:", *seen, sep="\n  ")
            count[0] = 0
            wall, cpu = time.perf_counter(), time.process_time()
            for k in range(20, 20 + n):
                r = api.post("/api/v1/bookings", json=load.body(setup.instruments[k % 2], *slots[k]), headers=member)
                assert r.status_code == 201, r.text
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            statements = count[0]
            admin = {"Authorization": f"Bearer {setup.admin_token}"}
            t0 = time.perf_counter()
            listed = len(api.get("/api/v1/bookings", params={"limit": 500}, headers=admin).json())
            listing = time.perf_counter() - t0
    code = args.code or "this checkout"
    print(f"{code}: per booking wall {1000 * wall / n:.1f} ms, CPU {1000 * cpu / n:.1f} ms, "
          f"{statements / n:.1f} statements; listing {listed} bookings {1000 * listing:.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
