"""Indicators and year-end rewards for 1,000 instruments × one year of usage, on PostgreSQL.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m bench.usage_rewards [--instruments 1000] [--records 520000] [--out bench/results/usage_rewards.json]

Creates a database of its own next to TEST_DATABASE_URL's (dropped at the end), migrates it,
bulk-loads units, instruments and enterprises through the ORM and the usage records and bookings
with COPY, then times the SQL indicators (per instrument, per unit, per programme), a frozen
year-end run with a budget, an unchanged rerun (same digest), and the exports. Never run by tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REGIONS = ["Anhui", "Shanghai", "Yunnan", "Henan", "Tianjin"]
MODES = ["operator_run", "self_operated", "guided", "remote"]


def _admin(base, statement: str) -> None:
    eng = create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(statement))
    eng.dispose()


def _load(url: str, n_inst: int, n_records: int, seed: int) -> dict:
    from sqlmodel import Session

    from booking_api import tables  # noqa: F401
    from instruments.db import get_engine
    from instruments.inventory import Instrument
    from instruments.units import OwnerUnit
    from scheduler.booking import credit_code
    from scheduler.booking.enterprises import Enterprise

    rng = random.Random(seed)
    engine = get_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as s:
        units = [OwnerUnit(name=f"Unit {i:03d}", region=REGIONS[i % len(REGIONS)]) for i in range(n_inst // 20)]
        s.add_all(units)
        s.flush()  # no ORM relationships: insert the units first
        insts = [
            Instrument(
                owner_unit_id=units[i % len(units)].id,
                name=f"Instrument {i:04d}",
                category=rng.choice(["XRD", "SEM", "NMR", "MS", "TEM"]),
                original_value_fen=rng.randrange(20_000_000, 800_000_000),
            )
            for i in range(n_inst)
        ]
        s.add_all(insts)
        ents = [
            Enterprise(name=f"Enterprise {i}", credit_code=credit_code.make("9", "1", "120116", f"MA{i:07d}"))
            for i in range(300)
        ]
        s.add_all(ents)
        s.commit()
        inst_ids = [i.id for i in insts]
        ent_ids = [e.id for e in ents]
    y0 = datetime(2025, 12, 31, 16, tzinfo=UTC)  # 2026-01-01 00:00 Asia/Shanghai
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols = (
            "id, instrument_id, enterprise_id, user_name, source, service_mode, external, started_at, ended_at, "
            "setup_minutes, measure_minutes, post_minutes, idle_minutes, samples, fee_fen, voucher_fen, rating, "
            "notes, created_at"
        )
        now = datetime.now(UTC)
        with cur.copy(f"COPY usage_record ({cols}) FROM STDIN") as cp:
            for n in range(n_records):
                external = rng.random() < 0.35
                setup, measure, post, idle = (
                    rng.randrange(0, 30),
                    rng.randrange(30, 300),
                    rng.randrange(0, 60),
                    rng.randrange(0, 30),
                )
                start = y0 + timedelta(minutes=rng.randrange(0, 365 * 24 * 60 - 600))
                fee = rng.randrange(0, 200_000)
                cp.write_row(
                    (
                        f"use_b{n:09d}",
                        inst_ids[n % len(inst_ids)],
                        rng.choice(ent_ids) if external else None,
                        f"user{rng.randrange(5000)}",
                        "operator_log",
                        rng.choice(MODES),
                        external,
                        start,
                        start + timedelta(minutes=setup + measure + post + idle),
                        setup,
                        measure,
                        post,
                        idle,
                        rng.randrange(0, 10),
                        fee,
                        fee // 2 if external and rng.random() < 0.3 else 0,
                        rng.randrange(1, 6) if rng.random() < 0.4 else None,
                        "",
                        now,
                    )
                )
        bcols = (
            'id, instrument_id, service_mode, start, "end", blocked_start, blocked_end, status, price_fen, '
            "sample_count, notes, source, sequence, created_at, updated_at, cancel_reason"
        )
        n_book = 0
        with cur.copy(f"COPY booking ({bcols}) FROM STDIN") as cp:
            for iid in inst_ids:
                for d in range(0, 360, 6):  # 60 bookings per instrument, one every 6 days
                    s0 = y0 + timedelta(days=d, hours=2)
                    e0 = s0 + timedelta(hours=2)
                    status = "no_show" if rng.random() < 0.05 else "completed"
                    cp.write_row(
                        (
                            f"bkg_b{n_book:09d}",
                            iid,
                            "operator_run",
                            s0,
                            e0,
                            s0,
                            e0,
                            status,
                            0,
                            0,
                            "",
                            "instant",
                            0,
                            now,
                            now,
                            "",
                        )
                    )
                    n_book += 1
        raw.commit()
        cur.execute("ANALYZE usage_record")
        cur.execute("ANALYZE booking")
        raw.commit()
    finally:
        raw.close()
    return {"load_s": round(time.perf_counter() - t0, 2), "units": len(units), "bookings": n_book}


def _timed(fn):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 3)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instruments", type=int, default=1000)
    ap.add_argument("--records", type=int, default=520_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default="bench/results/usage_rewards.json")
    a = ap.parse_args(argv)
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        sys.exit("Set TEST_DATABASE_URL to a PostgreSQL server (a database of its own is created and dropped).")
    base = make_url(pg.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_bench_usage_{os.getpid()}"
    url = base.set(database=name).render_as_string(hide_password=False)
    _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(base, f'CREATE DATABASE "{name}"')
    try:
        from sqlmodel import Session

        from booking_api.migrate import upgrade
        from fixtures.reward_rules import PRESETS, load_presets
        from instruments.actor import SYSTEM
        from instruments.db import get_engine
        from scheduler.sharing import indicators as ind
        from scheduler.sharing import reports, rewards

        upgrade(url)
        loaded = _load(url, a.instruments, a.records, a.seed)
        engine = get_engine(url)
        start, end = rewards.year_period(2026, "Asia/Shanghai")
        rows: list[tuple[str, float, str]] = []
        with Session(engine, expire_on_commit=False) as s:
            for level in ("instrument", "unit", "programme"):
                res, dt = _timed(lambda level=level: ind.compute(s, start, end, level))
                rows.append((f"indicators per {level}", dt, f"{len(res)} rows"))
            load_presets(s, SYSTEM, ["national"])
            s.commit()
            run, dt = _timed(lambda: rewards.run_year_end(s, SYSTEM, 2026, "national", budget_fen=1_000_000_000))
            s.commit()
            t = run.report.results["totals"]
            rows.append(
                (
                    "year-end run (indicators, scoring, budget allocation, freeze)",
                    dt,
                    f"{t['instruments_evaluated']} instruments, {t['units_rewarded']} units rewarded, "
                    f"{t['reward_fen']} fen of {t['budget_fen']}",
                )
            )
            again, dt = _timed(lambda: rewards.run_year_end(s, SYSTEM, 2026, "national", budget_fen=1_000_000_000))
            rows.append(("unchanged rerun (same digest, no new report)", dt, f"created={again.created}"))
            r = run.report
            part = r.results
            _, dt = _timed(lambda: reports.to_csv(reports.instrument_rows(r, part), reports.INSTRUMENT_COLUMNS))
            rows.append(("instruments CSV", dt, ""))
            xlsx, dt = _timed(lambda: reports.to_xlsx(r, part))
            rows.append(("XLSX", dt, f"{len(xlsx) // 1024} KiB"))
            html, dt = _timed(lambda: reports.to_html(r, part))
            rows.append(("HTML with SVG charts", dt, f"{len(html) // 1024} KiB"))
            n = s.execute(text("SELECT count(*) FROM usage_record")).scalar()
        print(
            f"PostgreSQL, {a.instruments} instruments in {loaded['units']} units, {n} usage records, "
            f"{loaded['bookings']} bookings (bulk load {loaded['load_s']} s, COPY)"
        )
        print(f"{'step':<62} {'seconds':>8}  notes")
        for label, dt, note in rows:
            print(f"{label:<62} {dt:>8.3f}  {note}")
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(
                {
                    "command": "python -m bench.usage_rewards " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "instruments": a.instruments,
                    "usage_records": n,
                    **loaded,
                    "steps": [{"step": s_, "seconds": d, "notes": no} for s_, d, no in rows],
                    "presets": sorted(PRESETS),
                },
                f,
                indent=2,
                ensure_ascii=False,
            )
        get_engine(url).dispose()
    finally:
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
