"""Voucher-funded allocation round benchmark: the demo's instruments and vouchers, many open requests.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_NAME \\
        .venv/bin/python -m bench.funded_round [--requests 2000] [--time-limit 30] [--extra-vouchers 15]
                                               [--seed 0] [--out bench/results/funded_round.json]

In a temporary PostgreSQL database (dropped afterwards; SQLite when TEST_DATABASE_URL is unset):
1. builds the demo (``fixtures.demo.build_demo``: 43 instruments, 22 enterprises, a voucher
   programme on the Jinan rules), then issues ``--extra-vouchers`` more vouchers of 5,000 yuan to
   each enterprise (within the programme's caps) and submits ``--requests`` open requests over
   the next three weeks (a random category, 1–3 hours, a window of 3–10 days; half want any
   voucher, a third of those with cash fallback, the rest pay cash);
2. runs FCFS with the same vouchers on the round's problem (``solver.fcfs``, voucher-aware);
3. times one allocation round (``run_round``, 2 workers) end to end: reading, solving, writing
   the tentative bookings and the voucher reservations in one transaction;
4. reports the round's wall time against the solver's time limit + 10 s, its objective against
   FCFS's, and the share of the offered voucher money each reserves (fen reserved / face value of
   the vouchers the round offered the solver). Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

import solver
from bench.calendar_feeds import each_database
from booking_api.migrate import upgrade
from fixtures.demo import TZ, build_demo
from instruments.actor import SYSTEM
from instruments.db import get_engine
from scheduler.allocation.round_problem import build_round_input
from scheduler.allocation.rounds import run_round
from scheduler.booking.booking_requests import BookingRequest
from scheduler.booking.enterprises import Enterprise
from scheduler.money import vouchers
from scheduler.money.request_funding import submit_funded_request


def populate(session: Session, today: date, n_requests: int, extra_vouchers: int, seed: int) -> datetime:
    demo = build_demo(session, today)
    admin = demo.actors["admin"]
    now = datetime.combine(today, time_of_day(9), TZ)
    for ent in demo.enterprises:
        for _ in range(extra_vouchers):
            vouchers.issue_voucher(session, admin, demo.programme.id, ent.id, "testing", 500_000, now=now - timedelta(days=1))
    session.commit()
    rng = random.Random(seed)
    categories = sorted({i.category for i in demo.instruments})
    for k in range(n_requests):
        ent = rng.choice(demo.enterprises)
        start = datetime.combine(today + timedelta(days=1 + rng.randrange(12)), time_of_day(8), TZ)
        wants = rng.random() < 0.5
        submit_funded_request(
            session,
            admin,
            BookingRequest(
                enterprise_id=ent.id,
                category=rng.choice(categories),
                service_mode="operator_run",
                duration_minutes=rng.choice([60, 120, 180]),
                earliest_start=start,
                deadline=start + timedelta(days=3 + rng.randrange(8)),
                priority=rng.randrange(4),
                funding="any_voucher" if wants else "cash",
                cash_fallback=wants and rng.random() < 1 / 3,
            ),
            now=now,
        )
        if k % 500 == 499:
            session.commit()
    session.commit()
    return now


def time_of_day(hh: int):
    from datetime import time as t

    return t(hh)


def _loadavg() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared: wall times depend on it)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def voucher_fen(problem: solver.Problem, placements) -> int:
    return sum(problem.voucher_by_id[p.voucher].pays[p.request][p.instrument] for p in placements if p.voucher)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--extra-vouchers", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/funded_round.json")
    args = ap.parse_args(argv)
    today = date.today()
    for backend, url in each_database():  # a temporary SQLite file, then PostgreSQL when TEST_DATABASE_URL is set
        if backend == "sqlite" and os.environ.get("TEST_DATABASE_URL"):
            continue
        upgrade(url)
        engine = get_engine(url)
        t = time.perf_counter()
        with Session(engine, expire_on_commit=False) as s:
            now = populate(s, today, args.requests, args.extra_vouchers, args.seed)
        built = time.perf_counter() - t
        with Session(engine, expire_on_commit=False) as s:
            t = time.perf_counter()
            inp = build_round_input(s, now)
            read = time.perf_counter() - t
            s.commit()
        pr = inp.problem
        offered = sum(v.face_value_fen for v in inp.vouchers.values())
        fcfs = solver.fcfs(pr)
        assert not solver.check(pr, fcfs.placements)
        t = time.perf_counter()
        marks: dict[str, float] = {}

        def progress(stage: str, info: dict, marks=marks, t=t) -> None:
            marks.setdefault(stage, round(time.perf_counter() - t, 2))

        load_before = _loadavg()
        rnd = run_round(engine, SYSTEM, now=now, time_limit=args.time_limit, workers=2, seed=args.seed,
                        progress=progress)
        wall = time.perf_counter() - t
        with Session(engine) as s:
            booked = list(s.exec(select(vouchers.Voucher).where(col(vouchers.Voucher.status) == vouchers.VoucherStatus.reserved,
                                                                 col(vouchers.Voucher.id).in_(list(inp.vouchers)))).all())
            n_ent = len(s.exec(select(Enterprise)).all())
        reserved = sum(v.reserved_fen for v in booked)
        out = {
            "backend": backend,
            "date": today.isoformat(),
            "requests": len(pr.requests),
            "voucher_requests": sum(r.funding == "voucher" for r in pr.requests),
            "instruments": len(pr.instruments),
            "enterprises": n_ent,
            "vouchers_offered": len(pr.vouchers),
            "voucher_face_offered_fen": offered,
            "caps": len(pr.caps),
            "populate_s": round(built, 1),
            "read_s": round(read, 2),
            "round_wall_s": round(wall, 2),
            "time_limit_s": args.time_limit,
            "within_limit_plus_10s": wall <= args.time_limit + 10,
            "stage_marks_s": marks,
            # the round's own phases: reading (to "loaded"), solving (to "solved", the checker
            # included), writing (to "written": one transaction)
            "phases_s": {
                "read": marks.get("loaded"),
                "solve": round(marks["solved"] - marks["loaded"], 2) if "solved" in marks and "loaded" in marks else None,
                "write": round(marks["written"] - marks["solved"], 2) if "written" in marks and "solved" in marks else None,
            },
            "loadavg": load_before + " → " + _loadavg(),
            "round": {"placed": rnd.placed, "unplaced": rnd.unplaced, "objective": rnd.objective,
                      "upper_bound": rnd.upper_bound, "method": rnd.method, "status": rnd.solver_status,
                      "solve_s": rnd.metrics.get("solve_seconds"),
                      "vouchers_reserved": len(booked), "voucher_fen_reserved": reserved,
                      "voucher_share_used": round(reserved / offered, 4) if offered else None},
            "fcfs": {"placed": len(fcfs.placements), "objective": fcfs.objective,
                     "vouchers_used": sum(1 for p in fcfs.placements if p.voucher),
                     "voucher_fen": voucher_fen(pr, fcfs.placements),
                     "voucher_share_used": round(voucher_fen(pr, fcfs.placements) / offered, 4) if offered else None},
            "unplaced_reasons": rnd.metrics.get("unplaced_reasons"),
        }
        engine.dispose()
        print(json.dumps(out, indent=2, ensure_ascii=False))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
