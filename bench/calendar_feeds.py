"""Calendar feed benchmark: render time of a year of bookings, and many clients polling a real server.

    .venv/bin/python -m bench.calendar_feeds [--repeats 30] [--clients 50] [--duration 10] [--subscriptions 40]
                                             [--move-every 0,1] [--workers 1] [--no-http]
                                             [--out bench/results/calendar_feeds.json]

For each database (a temporary SQLite file; PostgreSQL too when TEST_DATABASE_URL is set, in a
temporary database dropped afterwards):
1. builds one instrument with a year of bookings (half a year back, half ahead; four slots per
   working day, three enterprises, some moved, some cancelled);
2. times the feed render (median / p95 over ``--repeats``) for a lab manager's full view and an
   enterprise's mixed view (own in full, others as busy), over the default window (30 days back,
   180 ahead) and the whole year, each: *cold* (empty event cache: every VEVENT built by
   icalendar), *warm* (event cache filled, body rebuilt: what a poll after a change costs) and
   *cached* (``get_feed`` with an unchanged data version: one aggregate query);
3. starts uvicorn on 127.0.0.1 (a free port, ``--workers`` processes, default one) and lets
   ``--clients`` concurrent httpx clients poll ``--subscriptions`` feed URLs for ``--duration``
   seconds (loopback only), each polling its own subscription URL (client i → subscription
   i mod n) back to back, remembering its ETag and sending If-None-Match, once with no changes and once while a writer moves one
   booking every second (``--move-every``: every move changes every feed, a stress case);
   reports throughput, latency percentiles and the share of 304 answers.
Never run by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import serving

TZ = ZoneInfo("Asia/Shanghai")
SLOTS = (
    (dtime(8, 30), dtime(10, 30)),
    (dtime(10, 30), dtime(12, 0)),
    (dtime(13, 30), dtime(15, 30)),
    (dtime(15, 30), dtime(17, 30)),
)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


# --- data ------------------------------------------------------------------------------------


def build(url: str, n_subs: int) -> dict:
    from sqlmodel import Session

    from booking_api.migrate import upgrade
    from fixtures import factories
    from instruments.actor import Role
    from instruments.db import get_engine
    from scheduler.booking.bookings import Booking, BookingStatus
    from scheduler.calendars.calendar_feeds import ScopeKind, create_subscription

    upgrade(url)
    engine = get_engine(url)
    rnd = random.Random(7)
    with Session(engine, expire_on_commit=False) as s:
        unit = factories.unit(s, "Bench University Analysis Centre")
        inst = factories.instrument(s, unit, "Bench NMR 600 MHz", "NMR", location="Building 3, room 101")
        op = factories.operator(s, unit, "Operator Li", [inst], email="li@bench.cn")
        ents = [factories.enterprise(s, f"Bench Enterprise {i}", 100 + i) for i in range(3)]
        mgr_user, _, manager = factories.user(s, Role.lab_manager, "Bench Mgr", "mgr@bench.cn", owner_unit_id=unit.id)
        members = [
            factories.user(s, Role.enterprise_member, f"M{i}", f"m{i}@bench.cn", enterprise_id=e.id)[2]
            for i, e in enumerate(ents)
        ]
        today = datetime.now(TZ).date()
        now = datetime.now(UTC)
        rows = []
        day = today - timedelta(days=182)
        while day <= today + timedelta(days=183):
            if day.weekday() < 5:
                for lo, hi in SLOTS:
                    if rnd.random() < 0.15:
                        continue
                    start = datetime.combine(day, lo, TZ).astimezone(UTC)
                    end = datetime.combine(day, hi, TZ).astimezone(UTC)
                    ent = rnd.choice(ents)
                    past = end < now
                    status = BookingStatus.completed if past else BookingStatus.confirmed
                    cancelled_at = None
                    if rnd.random() < 0.05:
                        status, cancelled_at = (
                            BookingStatus.cancelled,
                            min(now, start) - timedelta(days=rnd.randint(0, 20)),
                        )
                    rows.append(
                        Booking(
                            instrument_id=inst.id,
                            enterprise_id=ent.id,
                            operator_id=op.id,
                            service_mode="operator_run",
                            start=start,
                            end=end,
                            blocked_start=start,
                            blocked_end=end,
                            status=status,
                            price_fen=60000,
                            sample_count=rnd.randint(0, 5),
                            notes=rnd.choice(["", "13C and 1H spectra", "HSQC, sample in CDCl3"]),
                            sequence=rnd.choice([0, 0, 0, 1, 2]),
                            created_at=now - timedelta(days=200),
                            updated_at=now - timedelta(days=rnd.randint(1, 100)),
                            cancelled_at=cancelled_at,
                        )
                    )
            day += timedelta(days=1)
        s.add_all(rows)
        s.flush()
        tokens = []
        owners = [manager, *members]
        for i in range(n_subs):
            actor = owners[i % len(owners)]
            kind, scope = (ScopeKind.unit, unit.id) if actor is manager else (ScopeKind.instrument, inst.id)
            sub, plain = create_subscription(s, actor, kind, scope, f"bench {i}")
            tokens.append(plain)
        s.commit()
        return {
            "engine": engine,
            "instrument_id": inst.id,
            "manager": manager,
            "member": members[0],
            "tokens": tokens,
            "bookings": len(rows),
            "mgr_user": mgr_user.id,
        }


# --- render timing ---------------------------------------------------------------------------


def time_render(world: dict, repeats: int) -> list[dict]:
    from sqlmodel import Session, select

    from scheduler.calendars.calendar_feeds import CalendarSubscription, FeedParams, clear_caches, get_feed, render_feed

    out = []
    with Session(world["engine"], expire_on_commit=False) as s:
        subs = s.exec(select(CalendarSubscription).order_by(CalendarSubscription.label)).all()
        by_owner = {}
        for sub in subs:
            by_owner.setdefault(sub.scope_kind, sub)
        cases = [
            ("manager (unit, all full)", by_owner["unit"], world["manager"]),
            ("enterprise (instrument, own + busy)", by_owner["instrument"], world["member"]),
        ]
        windows = [("default 30d+180d", FeedParams()), ("whole year 183d+183d", FeedParams(183, 183))]
        for who, sub, actor in cases:
            for wname, params in windows:
                row = {"view": who, "window": wname}
                cold, warm, cached = [], [], []
                for _ in range(repeats):
                    clear_caches()
                    t = time.perf_counter()
                    feed = render_feed(s, sub, actor, params)
                    cold.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    render_feed(s, sub, actor, params)
                    warm.append((time.perf_counter() - t) * 1000)
                    get_feed(s, sub, actor, params)
                    t = time.perf_counter()
                    get_feed(s, sub, actor, params)
                    cached.append((time.perf_counter() - t) * 1000)
                    s.rollback()
                row["events"] = feed.events
                row["kbytes"] = round(len(feed.body) / 1024)
                for name, vals in (("cold", cold), ("warm", warm), ("cached", cached)):
                    row[f"{name}_median_ms"] = round(statistics.median(vals), 1)
                    row[f"{name}_p95_ms"] = round(pct(vals, 95), 1)
                out.append(row)
    return out


# --- polling a real server -------------------------------------------------------------------


def _no_server(why: str, log_name: str) -> None:
    raise RuntimeError(f"uvicorn did not start ({why}): " + Path(log_name).read_text(errors="replace"))


@contextmanager
def server(url: str, workers: int = 1):
    port = serving.free_port()
    # the benchmark is one address hammering feeds: measure the feeds, not the rate limit
    env = {**os.environ, "LABSHARE_DATABASE_URL": url, "DATABASE_URL": url, "LABSHARE_RATE_LIMIT_ENABLED": "false"}
    cmd = [
        sys.executable, "-m", "uvicorn", "booking_api.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers), "--timeout-keep-alive", "30",
    ]  # fmt: skip
    log = tempfile.NamedTemporaryFile("w+b", prefix="calbench-uvicorn-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        serving.wait_until_healthy(base, proc, 60, on_failure=lambda why: _no_server(why, log.name))
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        text = Path(log.name).read_text(errors="replace").strip()
        if text:
            print("   server log (last lines):\n      " + "\n      ".join(text.splitlines()[-8:]))
        os.unlink(log.name)


def writer(world: dict, stop_at: float, every: float) -> int:
    """Move one future booking every ``every`` seconds (sequence + 1, updated_at now), like a lab manager."""
    from sqlalchemy import update
    from sqlmodel import Session, select

    from scheduler.booking.bookings import Booking

    moves = 0
    rnd = random.Random(3)
    with Session(world["engine"]) as s:
        ids = s.exec(select(Booking.id).where(Booking.start > datetime.now(UTC) + timedelta(days=2))).all()
    while every > 0 and time.monotonic() < stop_at:
        with Session(world["engine"]) as s:
            s.exec(
                update(Booking)
                .where(Booking.id == rnd.choice(ids))
                .values(sequence=Booking.sequence + 1, updated_at=datetime.now(UTC))
            )
            s.commit()
        moves += 1
        time.sleep(every)
    return moves


async def poll(base: str, tokens: list[str], clients: int, duration: float) -> dict:
    import httpx

    lat: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    kinds: dict[str, int] = {}
    stop = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def one(i: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        etags: dict[str, str] = {}
        url = f"{base}/calendar/feeds/{tokens[i % len(tokens)]}.ics"  # a client polls its own subscription
        while time.monotonic() < stop:
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            t = time.perf_counter()
            try:
                r = await client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                errors += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                continue
            lat.append((time.perf_counter() - t) * 1000)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                etags[url] = r.headers["etag"]

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        t0 = time.monotonic()
        await asyncio.gather(*(one(i, client) for i in range(clients)))
        wall = time.monotonic() - t0
    n = len(lat)
    return {
        "clients": clients,
        "duration_s": round(wall, 1),
        "requests": n,
        "req_per_s": round(n / wall, 1),
        "p50_ms": round(pct(lat, 50), 1),
        "p95_ms": round(pct(lat, 95), 1),
        "p99_ms": round(pct(lat, 99), 1),
        "share_304": round(codes.get(304, 0) / n, 3) if n else 0.0,
        "codes": {str(k): v for k, v in sorted(codes.items())},
        "errors": errors,
        "error_kinds": kinds,
    }


def run_http(world: dict, url: str, clients: int, duration: float, every: float, workers: int = 1) -> dict:
    import threading

    with server(url, workers) as base:
        stop_at = time.monotonic() + duration
        moves = {"n": 0}
        th = threading.Thread(target=lambda: moves.__setitem__("n", writer(world, stop_at, every)))
        th.start()
        result = asyncio.run(poll(base, world["tokens"], clients, duration))
        th.join()
        result["subscriptions"] = len(world["tokens"])
        result["booking_moves"] = moves["n"]
        result["move_every_s"] = every
        result["workers"] = workers
        return result


# --- databases -------------------------------------------------------------------------------


def each_database():
    """(backend, url) pairs; each temporary database lives while its pair is processed."""
    with tempfile.TemporaryDirectory() as tmp:
        yield "sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}"
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(pg.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"{base.database}_calbench_{os.getpid()}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield "postgresql", base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--clients", type=int, default=50, help="concurrent polling clients (≤ 500)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of polling (≤ 120)")
    ap.add_argument("--subscriptions", type=int, default=40, help="distinct feed URLs polled (≤ 1000)")
    ap.add_argument("--no-http", action="store_true", help="only time the render")
    ap.add_argument(
        "--move-every",
        default="0,1",
        help="polling scenarios: seconds between booking moves during polling, comma-separated (0: no changes)",
    )
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (≤ 8)")
    ap.add_argument("--out", default="bench/results/calendar_feeds.json")
    args = ap.parse_args(argv)
    clients = max(1, min(args.clients, 500))
    duration = max(1.0, min(args.duration, 120.0))
    n_subs = max(4, min(args.subscriptions, 1000))

    results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "python": sys.version.split()[0]}
    for backend, url in each_database():
        print(f"\n== {backend}: building a year of bookings …", flush=True)
        world = build(url, n_subs)
        print(f"   {world['bookings']} bookings on one instrument, {n_subs} subscriptions", flush=True)
        render = time_render(world, args.repeats)
        print(f"\n   feed render (ms, {args.repeats} repeats)")
        hdr = f"   {'view':<38} {'window':<22} {'events':>6} {'KiB':>5} {'cold med/p95':>14} {'warm med/p95':>14} {'cached med/p95':>15}"
        print(hdr)
        for r in render:
            print(
                f"   {r['view']:<38} {r['window']:<22} {r['events']:>6} {r['kbytes']:>5} "
                f"{r['cold_median_ms']:>6}/{r['cold_p95_ms']:<7} {r['warm_median_ms']:>6}/{r['warm_p95_ms']:<7} "
                f"{r['cached_median_ms']:>6}/{r['cached_p95_ms']:<7}"
            )
        entry = {"bookings": world["bookings"], "render": render}
        if not args.no_http:
            entry["polling"] = []
            print(
                f"\n   polling: {clients} clients × {duration:.0f} s against uvicorn on 127.0.0.1 (one process)",
                flush=True,
            )
            print(
                f"   {'move every':>10} {'clients':>7} {'subs':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}"
                f" {'p99 ms':>7} {'304 share':>9} {'moves':>5} {'errors':>6}"
            )
            for every in [float(x) for x in args.move_every.split(",") if x.strip()]:
                http = run_http(world, url, clients, duration, every, max(1, min(args.workers, 8)))
                entry["polling"].append(http)
                label = f"{every:g} s" if every > 0 else "never"
                print(
                    f"   {label:>10} {http['clients']:>7} {http['subscriptions']:>5} {http['requests']:>8}"
                    f" {http['req_per_s']:>7} {http['p50_ms']:>7} {http['p95_ms']:>7} {http['p99_ms']:>7}"
                    f" {http['share_304']:>9} {http['booking_moves']:>5} {http['errors']:>6}   codes {http['codes']} {http['error_kinds'] or ''}",
                    flush=True,
                )
        world["engine"].dispose()
        results[backend] = entry
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
