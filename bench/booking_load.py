"""Load bench of the booking path over HTTP, after the published peer method (issue 25).

    .venv/bin/python -m bench.booking_load [--database postgresql+psycopg://postgres@127.0.0.1:5432/labshare_bench]
                                           [--workers 2] [--bookings 1000] [--clients 4] [--conflicts 200]
                                           [--race-clients 20] [--race-slots 10] [--list-repeats 10]
                                           [--py-spy PROFILE.json] [--json RESULT.json] [--code DIR]

1. creates its own database: with a PostgreSQL URL the database it names, which must not exist
   yet (it is dropped afterwards); without ``--database`` a SQLite file in a temporary folder.
   Migrates it, then builds one owner unit with ``--instruments`` instruments, each in its own
   lab (capacity 2), open every day 08:00–20:00 Asia/Shanghai with a real policy (30-minute grid,
   30–240 minutes, no lead time, 365 days ahead, auto-confirm), and one enterprise per client,
   each with its own user, API token and a self-operation qualification for every instrument;
   plus a programme admin for the listing;
2. serves it with ``uvicorn --workers N`` of this checkout (no jobs, no rate limit);
3. runs the phases, each client a thread with its own keep-alive connection (``Client``, on the
   standard library's ``http.client``: far less CPU per request than httpx, which matters when
   the clients share the server's cores):
   ``book`` — ``--bookings`` policy-checked instant bookings (``POST /api/v1/bookings``,
   self-operated, 30 minutes) from ``--clients`` concurrent clients, conflict-free (each client
   books its own instruments' slots); ``conflict`` — ``--conflicts`` attempts at slots already
   taken (every one must be refused with 409); ``race`` — ``--race-clients`` clients released
   together at each of ``--race-slots`` free slots of one instrument (exactly one may win each);
   then the database is asked for overlapping live bookings (must be 0); ``list`` — the admin
   lists the month holding every booking (``GET /api/v1/bookings``, pages of 500), repeated;
4. prints throughput and p50/p95/p99 latency per phase and exits 1 if a check failed (a
   conflict-free booking refused, a conflicting one accepted, a race slot won twice, an overlap);
   for the ``book`` phase also the CPU time per booking of the server's processes, of the
   database's backends serving it (PostgreSQL) and of the bench's own clients, read from
   ``/proc``: on a 2-core machine their sum bounds the throughput at 2 s / (CPU per booking);
   ``--floor N`` adds N GETs of ``/healthz`` and of ``/api/v1/me`` (token lookup, one query),
   measured the same way: the cost of the HTTP stack alone, a ceiling for any endpoint.

``--code DIR`` serves another copy of the code (``git archive 8515f15 | tar -x -C DIR``), the data
still built by this one (same schema): before and after, interleaved on the same machine.
``--py-spy FILE`` records the server with ``py-spy record --subprocesses`` (speedscope JSON) while
the phases run: the profile that guided the work in ``bench/RESULTS.md``. Never run by the timed
suite (a smoke test runs it with tiny counts on SQLite).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TZ = ZoneInfo("Asia/Shanghai")
OPEN, CLOSE = clock(8), clock(20)
SLOT = timedelta(minutes=30)
POLICY = {
    "slot_minutes": 30,
    "min_minutes": 30,
    "max_minutes": 240,
    "lead_minutes": {"self_operated": 0, "guided": 0, "operator_run": 0, "remote": 0},
    "max_advance_days": 365,
    "max_future_bookings": 1_000_000,
    "auto_confirm": True,
}


# --- the database -------------------------------------------------------------------------------


@contextmanager
def own_database(url: str | None, keep: bool = False) -> Iterator[str]:
    """A fresh database: the PostgreSQL database ``url`` names (created here, refused if it
    exists, dropped afterwards unless ``keep``), or a SQLite file in a temporary folder."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="labshare-load-") as folder:
            yield url or f"sqlite:///{folder}/load.db"
        return
    target = make_url(url)
    name = target.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"give the bench a database name of letters, digits and _: {name!r}")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                raise SystemExit(f"database {name!r} exists already: the bench makes its own, give a new name")
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield target.render_as_string(hide_password=False)
        finally:
            if not keep:
                from instruments.db import get_engine

                get_engine(url).dispose()  # this process's pooled connections to the database
                get_engine.cache_clear()
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Setup:
    instruments: list[str]  # booked by the clients, conflict-free
    race_instrument: str
    tokens: list[str]  # one per client (its own enterprise and user)
    admin_token: str
    first_day: date


def build(url: str, clients: int, instruments: int, today: date) -> Setup:
    """Migrate and fill the bench's database through the platform's own services."""
    from booking_api.migrate import upgrade

    upgrade(url)
    from fixtures import factories
    from instruments.actor import SYSTEM, Role
    from instruments.availability import OpeningRule
    from instruments.catalogue import add_opening_rule
    from instruments.db import get_engine, session_scope

    with session_scope(get_engine(url)) as s:
        unit = factories.unit(s, "Bench Analysis Centre")
        made = []
        for k in range(instruments + 1):
            lab = factories.lab(s, unit, f"Bench lab {k}", capacity=2)
            inst = factories.instrument(
                s, unit, f"Bench instrument {k}", "XRD", hours=(), policy=POLICY, lab_id=lab.id
            )
            add_opening_rule(
                s, SYSTEM, inst,
                OpeningRule(rrule="FREQ=DAILY", start_time=OPEN, end_time=CLOSE, valid_from=date(2020, 1, 1),
                            follows_holidays=False),
            )  # fmt: skip
            made.append(inst)
        tokens = []
        for c in range(clients):
            ent = factories.enterprise(s, f"Bench enterprise {c}", 1000 + c)
            user, token, _ = factories.user(
                s, Role.enterprise_member, f"Bench client {c}", f"client{c}@bench.cn", enterprise_id=ent.id
            )
            for inst in made:
                factories.qualify(s, user.id, inst, date(2020, 1, 1))
            tokens.append(token)
        _, admin_token, _ = factories.user(s, Role.programme_admin, "Bench admin", "admin@bench.cn")
        ids = [i.id for i in made]
    return Setup(ids[:-1], ids[-1], tokens, admin_token, today + timedelta(days=1))


def overlaps(url: str) -> int:
    """Pairs of live bookings of one instrument whose blocked ranges meet: the database's own
    answer, not the API's."""
    from instruments.db import get_engine
    from scheduler.booking.bookings import LIVE_SQL

    sql = f"""SELECT count(*) FROM booking a JOIN booking b
              ON a.instrument_id = b.instrument_id AND a.id < b.id
             AND a.blocked_start < b.blocked_end AND b.blocked_start < a.blocked_end
             WHERE a.status IN {LIVE_SQL} AND b.status IN {LIVE_SQL}"""
    with get_engine(url).connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


# --- the clients ----------------------------------------------------------------------------------


@dataclass
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """One client's keep-alive HTTP/1.1 connection with its API token: the least CPU per request
    a Python client can spend (the load, not the client, is what the bench measures)."""

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        r = self.conn.getresponse()
        return Answer(r.status, r.read())

    def get(self, path: str, params: dict | None = None) -> Answer:
        return self.request("GET", f"{path}?{urlencode(params)}" if params else path)

    def post(self, path: str, json_body: Any) -> Answer:
        return self.request("POST", path, json.dumps(json_body).encode(), {"Content-Type": "application/json"})

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


# --- the phases ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter = field(default_factory=Counter)
    wall: float = 0.0
    failures: list[str] = field(default_factory=list)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    def row(self) -> dict:
        n = len(self.latencies)
        return {
            "phase": self.name,
            "requests": n,
            "statuses": dict(sorted(self.statuses.items())),
            "per_s": round(n / self.wall, 1) if self.wall else None,
            "p50_ms": round(self.pct(0.50), 1),
            "p95_ms": round(self.pct(0.95), 1),
            "p99_ms": round(self.pct(0.99), 1),
            "failures": self.failures[:5],
        }


def slots(day: date, days: int) -> Iterator[tuple[datetime, datetime]]:
    for d in range(days):
        t = datetime.combine(day + timedelta(days=d), OPEN, TZ)
        close = datetime.combine(day + timedelta(days=d), CLOSE, TZ)
        while t + SLOT <= close:
            yield t, t + SLOT
            t += SLOT


def body(instrument: str, start: datetime, end: datetime) -> dict:
    return {"instrument_id": instrument, "start": start.isoformat(), "end": end.isoformat(),
            "service_mode": "self_operated", "notes": "load bench"}  # fmt: skip


def run_clients(
    phase: Phase,
    base: str,
    tokens: list[str],
    work: list[list],
    expect: Callable[[int], bool],
    send: Callable[[Client, Any], Answer] = lambda api, item: api.post("/api/v1/bookings", item),
) -> None:
    """One thread per client sending its items in order (by default: posting them as bookings);
    latencies and statuses into ``phase``."""
    lock = threading.Lock()

    def client(token: str, items: list) -> None:
        with Client(base, token) as api:
            for item in items:
                t0 = time.perf_counter()
                r = send(api, item)
                dt = time.perf_counter() - t0
                with lock:
                    phase.latencies.append(dt)
                    phase.statuses[r.status_code] += 1
                    if not expect(r.status_code):
                        phase.failures.append(f"{r.status_code} {r.text[:200]}")

    timed(phase, [threading.Thread(target=client, args=(t, w)) for t, w in zip(tokens, work, strict=True)])


def timed(phase: Phase, threads: list[threading.Thread]) -> None:
    """Start the clients together, wait for all; the phase's wall time."""
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.wall = time.perf_counter() - t0


def floor_phase(name: str, base: str, tokens: list[str], path: str, n: int) -> Phase:
    """``n`` GETs of ``path`` shared by the clients: what the HTTP stack (and, for an
    authenticated path, the token lookup) costs with no booking work, the ceiling any booking
    path on this machine stays under."""
    phase = Phase(name)
    share = -(-n // len(tokens))
    run_clients(phase, base, tokens, [[path] * share for _ in tokens], lambda s: s == 200, lambda api, p: api.get(p))
    return phase


def book_phase(base: str, setup: Setup, n: int, clients: int) -> tuple[Phase, list[dict]]:
    """``n`` conflict-free bookings; client c books the instruments whose index is c modulo clients."""
    phase = Phase("book")
    per_day = len(list(slots(setup.first_day, 1)))
    days = -(-n // (per_day * len(setup.instruments))) + 1
    work: list[list[dict]] = [[] for _ in range(clients)]
    made = 0
    for start, end in slots(setup.first_day, days):
        for k, inst in enumerate(setup.instruments):
            if made < n:
                work[k % clients].append(body(inst, start, end))
                made += 1
    run_clients(phase, base, setup.tokens[:clients], work, lambda s: s == 201)
    return phase, [b for w in work for b in w]


def conflict_phase(base: str, setup: Setup, booked: list[dict], n: int, clients: int) -> Phase:
    """``n`` attempts at taken slots, by clients other than the one holding each (409 expected)."""
    phase = Phase("conflict")
    work: list[list[dict]] = [[] for _ in range(clients)]
    for k in range(n):
        work[k % clients].append(booked[(k * 7919) % len(booked)])
    run_clients(phase, base, list(reversed(setup.tokens[:clients])), work, lambda s: s == 409)
    return phase


def race_phase(base: str, setup: Setup, booked: list[dict], racers: int, slot_count: int) -> Phase:
    """At each slot, ``racers`` clients released together; exactly one may win."""
    phase = Phase("race")
    last = max(datetime.fromisoformat(b["start"]) for b in booked) if booked else datetime.combine(setup.first_day, OPEN, TZ)
    free = list(slots(last.astimezone(TZ).date() + timedelta(days=1), 2))[:slot_count]
    barrier = threading.Barrier(racers)
    wins: Counter = Counter()
    lock = threading.Lock()

    def racer(token: str) -> None:
        with Client(base, token) as api:
            api.get("/healthz")  # connect before the race
            for start, end in free:
                barrier.wait()
                t0 = time.perf_counter()
                r = api.post("/api/v1/bookings", body(setup.race_instrument, start, end))
                dt = time.perf_counter() - t0
                with lock:
                    phase.latencies.append(dt)
                    phase.statuses[r.status_code] += 1
                    if r.status_code == 201:
                        wins[start] += 1
                    elif r.status_code != 409:
                        phase.failures.append(f"{r.status_code} {r.text[:200]}")

    timed(phase, [threading.Thread(target=racer, args=(t,)) for t in setup.tokens[:racers]])
    for start, _ in free:
        if wins[start] != 1:
            phase.failures.append(f"slot {start.isoformat()} won {wins[start]} times")
    return phase


def list_phase(base: str, setup: Setup, booked: list[dict], repeats: int) -> tuple[Phase, Phase]:
    """The admin lists the month holding every booking, page by page (500 a page): one phase per
    page request, one per whole listing."""
    pages, whole = Phase("list page (500)"), Phase("list all")
    lo = datetime.combine(setup.first_day, clock(0), TZ)
    params = {"start": lo.isoformat(), "end": (lo + timedelta(days=31)).isoformat(), "limit": 500}
    with Client(base, setup.admin_token) as api:
        t_all = time.perf_counter()
        for _ in range(repeats):
            t0 = time.perf_counter()
            got, offset = 0, 0
            while True:
                t1 = time.perf_counter()
                r = api.get("/api/v1/bookings", params={**params, "offset": offset})
                pages.latencies.append(time.perf_counter() - t1)
                pages.statuses[r.status_code] += 1
                rows = r.json() if r.status_code == 200 else []
                got += len(rows)
                offset += 500
                if len(rows) < 500:
                    break
            whole.latencies.append(time.perf_counter() - t0)
            whole.statuses[got] += 1
            if got < len(booked):
                whole.failures.append(f"listed {got} of {len(booked)} bookings")
        pages.wall = whole.wall = time.perf_counter() - t_all
    return pages, whole


# --- where the CPU goes ---------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _server_pids(port: str) -> list[int]:
    """The uvicorn process listening on ``port`` and all its descendants."""
    parents: dict[int, int] = {}
    root = None
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if root is None and f"--port\0{port}\0" in (d / "cmdline").read_text():
                root = int(d.name)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    found = {root} if root else set()
    while True:
        more = {pid for pid, ppid in parents.items() if ppid in found} - found
        if not more:
            return sorted(found)
        found |= more


def _backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to the bench's database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    from instruments.db import get_engine

    with get_engine(url).connect() as conn:
        sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        return [int(x) for x in conn.execute(text(sql)).scalars()]


@contextmanager
def cpu_meter(base: str, url: str, out: dict, shares: list | None = None) -> Iterator[None]:
    """CPU seconds spent while the block runs by the server, the database's backends and this
    process (the clients), into ``out``; into ``shares`` the server processes' shares of the
    server's CPU (those above 5 %: the workers), largest first. The clients' keep-alive
    connections are dealt to the workers by the kernel as they connect, so one worker may serve
    three of four clients: the shares tell a run whose split was uneven."""
    shares = [] if shares is None else shares
    port = base.rsplit(":", 1)[1]
    server, backends = _server_pids(port), _backend_pids(url)
    before = {pid: _cpu_of(pid) for pid in server + backends}
    own = time.process_time()
    yield
    out["client_s"] = time.process_time() - own
    server = sorted(set(server) | set(_server_pids(port)))
    backends = sorted(set(backends) | set(_backend_pids(url)))
    spent = {p: _cpu_of(p) - before.get(p, 0.0) for p in server}
    out["server_s"] = sum(spent.values())
    shares.extend(sorted((v / out["server_s"] for v in spent.values() if v > 0.05 * out["server_s"]), reverse=True)
                  if out["server_s"] else [])  # fmt: skip
    out["database_s"] = sum(_cpu_of(p) - before.get(p, 0.0) for p in backends)


# --- the command --------------------------------------------------------------------------------


def print_table(rows: list[dict]) -> None:
    print(f"{'phase':<16}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for r in rows:
        print(f"{r['phase']:<16}{r['requests']:>9}{r['per_s'] or 0:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}  {r['statuses']}")  # fmt: skip
        for f in r["failures"]:
            print(f"    ! {f}")


def run(args: argparse.Namespace) -> dict:
    from bench import serving

    clients = max(args.clients, args.race_clients)
    today = datetime.now(TZ).date()
    cpu_of: dict[str, dict[str, float]] = {"book": {}}
    worker_shares: list[float] = []
    floors: list[Phase] = []
    with own_database(args.database, keep=args.keep) as url:
        t0 = time.perf_counter()
        setup = build(url, clients, args.instruments, today)
        print(f"database {make_url(url).render_as_string()} built in {time.perf_counter() - t0:.1f} s", flush=True)
        with tempfile.NamedTemporaryFile("w+b", prefix="load-uvicorn-", suffix=".log") as log:
            with serving.uvicorn(
                url,
                log,
                workers=args.workers,
                root=Path(args.code or serving.ROOT),
                timeout=180,
                extra_args=tuple(args.server_args.split()),
            ) as base:
                spy = None
                if args.py_spy:
                    spy = profile(base, args.py_spy)
                try:
                    with cpu_meter(base, url, cpu_of["book"], worker_shares):
                        book, booked = book_phase(base, setup, args.bookings, args.clients)
                    conflict = conflict_phase(base, setup, booked, args.conflicts, args.clients)
                    race = race_phase(base, setup, booked, args.race_clients, args.race_slots)
                    pages, whole = list_phase(base, setup, booked, args.list_repeats)
                    for name, path in (("floor healthz", "/healthz"), ("floor me", "/api/v1/me")) if args.floor else ():
                        cpu_of[name] = {}
                        with cpu_meter(base, url, cpu_of[name]):
                            floors.append(floor_phase(name, base, setup.tokens[: args.clients], path, args.floor))
                finally:
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
                        spy.wait(timeout=60)
            log.seek(0)
            server_log = log.read().decode(errors="replace").strip()
        found = overlaps(url)
    rows = [p.row() for p in (book, conflict, race, pages, whole, *floors)]
    if found:
        rows[2]["failures"].append(f"{found} overlapping pairs of live bookings in the database")
    print_table(rows)
    print(f"overlaps in the database: {found}")
    per: dict[str, dict[str, float]] = {}
    for phase in (book, *floors):
        cpu = cpu_of.get(phase.name, {})
        if cpu:
            per[phase.name] = {k: round(v / max(1, len(phase.latencies)) * 1000, 2) for k, v in cpu.items()}
            ms = per[phase.name]
            print(
                f"CPU per request ({phase.name}): server {ms['server_s']} ms, database {ms['database_s']} ms, "
                f"clients {ms['client_s']} ms; total {round(sum(ms.values()), 2)} ms "
                f"(at most {round(os.cpu_count() * 1000 / max(0.01, sum(ms.values())))}/s on {os.cpu_count()} cores)"
            )
    if worker_shares:
        print("server CPU by worker (book): " + " / ".join(f"{100 * x:.0f} %" for x in worker_shares))
    if server_log:
        print("server log (last lines):\n  " + "\n  ".join(server_log.splitlines()[-8:]))
    return {"database": "postgresql" if url.startswith("postgresql") else "sqlite", "workers": args.workers,
            "overlaps": found, "phases": rows, "cpu_ms_per_request": per, "worker_shares": worker_shares}  # fmt: skip


def profile(base: str, out: str) -> subprocess.Popen:
    """py-spy sampling the server (and its worker processes) until terminated."""
    port = base.rsplit(":", 1)[1]
    pid = subprocess.run(["lsof", "-t", f"-iTCP:{port}", "-sTCP:LISTEN"], capture_output=True, text=True).stdout.split()
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--format", "speedscope", "-o", out, "--pid", min(pid, key=int)],
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.booking_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", help="PostgreSQL URL naming a database to create (default: a SQLite file)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bookings", type=int, default=1000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--conflicts", type=int, default=200)
    p.add_argument("--race-clients", type=int, default=20)
    p.add_argument("--race-slots", type=int, default=10)
    p.add_argument("--instruments", type=int, default=8)
    p.add_argument("--list-repeats", type=int, default=10)
    p.add_argument(
        "--floor", type=int, default=0, metavar="N",
        help="also N GETs of /healthz and of /api/v1/me: the HTTP stack's own cost, the booking path's ceiling",
    )  # fmt: skip
    p.add_argument("--code", metavar="DIR", help="serve the code in DIR (e.g. `git archive` of another commit) to compare")
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    p.add_argument("--py-spy", metavar="FILE", help="record the server with py-spy into FILE (speedscope JSON)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument(
        "--server-args",
        default="",
        help='more uvicorn options, e.g. "--loop asyncio --http h11" (the pure-Python stack, to compare)',
    )
    args = p.parse_args(argv)
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if result["overlaps"] or any(r["failures"] for r in result["phases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
