"""The ``labshare`` command: serve, demo, db upgrade (or migrate), round, vouchers, usage, rewards, mail.

Every command works on the same database as the demo unless told otherwise
(``booking_api/cli_database.py``)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from instruments.db import get_engine, session_scope
from instruments.settings import DEFAULT_DATABASE_URL, get_settings

from . import tables  # noqa: F401 - every table known before any query
from .cli_database import DbUrl, command_engine, resolve, sqlite_file
from .cli_mail import mail_app
from .cli_usage import rewards_cmd, usage_app

app = typer.Typer(help="labshare: shared scientific instruments for enterprises.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(usage_app, name="usage")  # labshare usage import FILE.csv --instrument …
app.command("rewards")(rewards_cmd)  # labshare rewards YEAR
app.add_typer(mail_app, name="mail")  # labshare mail list | show | retry | deliver | samples
console = Console()


@db_app.command("upgrade")
def db_upgrade(database_url: str | None = DbUrl, revision: str = "head") -> None:
    """Apply the migrations (SQLite or PostgreSQL); creates the tables of a new database."""
    from .migrate import upgrade

    url = resolve(database_url)
    upgrade(url, revision)
    console.print(f"[green]database at {url} is at revision {revision}[/green]", soft_wrap=True)


app.command("migrate", help="Apply the migrations (the same as `labshare db upgrade`).")(db_upgrade)


@app.command()
def serve(
    database_url: str | None = DbUrl,
    host: str = typer.Option(None, help="Bind address (default LABSHARE_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default LABSHARE_PORT or 8000)"),
    workers: int = typer.Option(None, min=1, help="Worker processes (default LABSHARE_WORKERS or 1)"),
    migrate: bool = typer.Option(True, help="Apply migrations first"),
) -> None:
    """Serve the API (and pages) against any database; with ``--workers N``, N processes share the
    port, and the scheduled jobs run in the one of them (or of any host) elected job leader."""
    from .migrate import upgrade

    settings = get_settings()
    url = resolve(database_url)
    if migrate:
        upgrade(url)
    run_server(url, host or settings.host, port or settings.port, workers or settings.workers)


def run_server(database_url: str, host: str, port: int, workers: int = 1) -> None:
    """uvicorn with bounded waits: idle keep-alive connections close after ``timeout_keep_alive``
    seconds, and on SIGTERM requests in flight get ``timeout_graceful_shutdown`` seconds before
    they are cancelled, so a deployment's stop never hangs on a slow client. Several workers are
    processes of their own that build the app from the settings, so the database is passed to
    them in ``LABSHARE_DATABASE_URL``."""
    import os

    import uvicorn

    from .app import create_app

    settings = get_settings()
    bounds = {
        "timeout_keep_alive": settings.timeout_keep_alive,
        "timeout_graceful_shutdown": settings.timeout_graceful_shutdown,
    }
    if workers == 1:
        uvicorn.run(create_app(database_url), host=host, port=port, **bounds)
        return
    os.environ["LABSHARE_DATABASE_URL"] = database_url
    uvicorn.run(
        "booking_api.app:from_settings",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        # a worker answers health checks only once it has imported the app: seconds on a busy machine
        timeout_worker_healthcheck=settings.worker_healthcheck_timeout,
        **bounds,
    )


@app.command()
def demo(
    database_url: str = typer.Option(
        DEFAULT_DATABASE_URL,
        "--database-url",
        help="Where to build the demo (the environment's LABSHARE_DATABASE_URL is never replaced unless named here)",
    ),
    seed: int = 2026,
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Serve after building"),
    host: str = typer.Option(None, help="Bind address (default LABSHARE_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default LABSHARE_PORT or 8000)"),
    replace: bool = typer.Option(False, "--replace", help="Replace a database that holds data other than the demo's"),
    today: str | None = typer.Option(
        None, "--today", help="Build the demo around this day (YYYY-MM-DD); default: today in the platform's zone"
    ),
    tokens_file: Path = typer.Option(
        None, "--tokens-file", help="Also write the tokens as JSON [{role, who, token}] (for scripts such as make fuzz)"
    ),
    mail_port: int = typer.Option(0, "--mail-port", help="Port of the demo's SMTP sink (0: a free one)"),
    mail_dir: Path = typer.Option(
        Path("~/.cache/labshare/demo-mail"), "--mail-dir", help="Where the demo's SMTP sink writes received mail"
    ),
) -> None:
    """Build a fresh database with realistic demo data, print tokens and example calls, and serve
    (with a local SMTP sink receiving the platform's mail)."""
    from fixtures.demo import build_demo

    from .migrate import upgrade

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    database_url = resolve(database_url)
    if not replace and (users := _non_demo_users(database_url)):
        console.print(
            f"[red]The database at {database_url} holds data not built by the demo ({users} users); the demo "
            "replaces everything in it. Pass --replace to do so anyway, or --database-url for another database.[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    path = sqlite_file(database_url)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        from booking_api.migrate import downgrade

        downgrade(database_url, "base")
    upgrade(database_url)
    engine = get_engine(database_url)
    day = _day_option(today, "--today") if today else platform_now().date()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("building demo data", total=None)
        with session_scope(engine) as session:
            result = build_demo(session, day, seed, progress=lambda m: bar.update(task, description=m))
        bar.update(task, description="demo data ready")
    with session_scope(engine) as session:
        example = _example_booking(session, result)
    _print_intro(result, example, f"http://{host}:{port}")
    if tokens_file is not None:
        tokens = [{"role": role, "who": who, "token": tok} for role, who, tok in result.tokens]
        tokens_file.write_text(json.dumps(tokens, ensure_ascii=False, indent=1))
    console.print(f"Demo database: {database_url}", highlight=False, markup=False, soft_wrap=True)
    if serve_after:
        sink = _start_mail_sink(mail_port, mail_dir, database_url)
        try:
            run_server(database_url, host, port)
        finally:
            if sink is not None:
                sink.stop()

def _non_demo_users(database_url: str) -> int:
    """How many users of an existing database the demo did not create (0: missing, empty or a demo)."""
    from sqlmodel import Session, col, func, select

    from fixtures.demo import DEMO_EMAIL_DOMAIN

    from .accounts import User
    from .cli_database import NoDatabase, existing_database

    try:
        engine = existing_database(database_url)
    except NoDatabase:
        return 0
    try:
        with Session(engine) as session:
            others = select(func.count()).select_from(User).where(~col(User.email).endswith(DEMO_EMAIL_DOMAIN))
            return session.exec(others).one()
    finally:
        engine.dispose()  # no pooled connection may outlive the file the demo is about to delete


def _start_mail_sink(port: int, folder: Path, database_url: str):  # noqa: ANN202 - a MailSink or None
    """The demo's SMTP sink: the delivery job sends the outbox there (unless LABSHARE_SMTP_URL
    names a real server), and every mail lands in ``folder`` as an .eml file."""
    import os

    from .mail_sink import MailSink

    if get_settings().smtp_url:
        console.print(f"Mail goes to LABSHARE_SMTP_URL ({get_settings().smtp_url.split('@')[-1]}).")
        return None
    sink = MailSink(port=port or None, folder=folder.expanduser()).start()
    os.environ["LABSHARE_SMTP_URL"] = sink.url
    os.environ.setdefault("LABSHARE_MAIL_INTERVAL_SECONDS", "10")
    get_settings.cache_clear()
    console.print(
        f"[bold]Mail[/bold]: a local SMTP sink listens on {sink.url}; the platform's mail arrives there every "
        f"{get_settings().mail_interval_seconds} s and lands in {sink.folder} as .eml files. "
        f"Read the outbox: labshare mail list --database-url {database_url}",
        soft_wrap=True,
        highlight=False,
    )
    return sink


@app.command("round")
def round_(
    database_url: str | None = DbUrl,
    time_limit: float = typer.Option(30.0, help="Seconds the solver may use"),
    workers: int = typer.Option(2, help="CP-SAT workers"),
    seed: int = typer.Option(0, help="Random seed (reproducible runs with --workers 1)"),
) -> None:
    """Run an allocation round now: place every open request, explain the rest."""
    import threading
    import time

    from rich.progress import BarColumn

    from instruments.actor import SYSTEM
    from instruments.run_lock import Busy
    from scheduler.allocation.rounds import run_round

    engine = command_engine(database_url)
    t0 = time.monotonic()
    done = threading.Event()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("loading requests", total=time_limit)

        def tick() -> None:
            while not done.wait(0.2):
                bar.update(task, completed=min(time_limit, time.monotonic() - t0))

        threading.Thread(target=tick, daemon=True).start()

        def on_progress(stage: str, info: dict) -> None:
            shown = ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, (list, dict)))
            bar.update(task, description=f"{stage}: {shown}")

        try:
            rnd = run_round(
                engine,
                SYSTEM,
                time_limit=time_limit,
                workers=workers,
                seed=seed,
                triggered_by="cli",
                progress=on_progress,
            )
        except Busy as exc:
            console.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(1) from exc
        finally:
            done.set()
        bar.update(task, completed=time_limit, description="round written")
    gap = f"{rnd.gap:.2%}" if rnd.gap is not None else "n/a"
    console.print(
        f"round {rnd.id}: {rnd.requests_considered} requests, {rnd.placed} placed, {rnd.unplaced} not placed; "
        f"objective {rnd.objective} (FCFS {rnd.metrics.get('fcfs_objective')}), upper bound {rnd.upper_bound}, gap {gap}, "
        f"{rnd.solver_status}; {rnd.metrics.get('accepted_hours')} h for {rnd.metrics.get('enterprises_served')} enterprises"
    )
    for reason, n in sorted(rnd.metrics.get("unplaced_reasons", {}).items()):
        console.print(f"  not placed, {reason}: {n}")


vouchers_app = typer.Typer(help="Innovation voucher programmes.", no_args_is_help=True)
app.add_typer(vouchers_app, name="vouchers")


@vouchers_app.command("stats")
def voucher_stats(
    programme_id: str = typer.Argument(None, help="Programme id (default: the newest programme)"),
    start: str = typer.Option(None, help="First day, YYYY-MM-DD (default: 1 January of the programme year)"),
    end: str = typer.Option(None, help="Last day, inclusive (default: today)"),
    csv: bool = typer.Option(False, "--csv", help="CSV instead of JSON"),
    database_url: str | None = DbUrl,
) -> None:
    """The figures a programme publishes: issued, used, redeemed, enterprises served…"""
    from datetime import time

    from sqlmodel import Session, col, select

    from scheduler.money.voucher_stats import programme_stats, stats_csv
    from scheduler.money.vouchers import VoucherProgramme

    engine = command_engine(database_url)
    tz = ZoneInfo(get_settings().default_timezone)
    with Session(engine) as session:
        prog = session.get(VoucherProgramme, programme_id) if programme_id else session.exec(
            select(VoucherProgramme).order_by(col(VoucherProgramme.created_at).desc())).first()
        if prog is None:
            console.print("[red]No such voucher programme.[/red]")
            raise typer.Exit(1)
        lo = _day_option(start, "--start") if start else date(prog.year, 1, 1)
        hi = _day_option(end, "--end") if end else platform_now().date()
        stats = programme_stats(session, prog.id, datetime.combine(lo, time(0), tz), datetime.combine(hi + timedelta(days=1), time(0), tz))
    print(stats_csv(stats) if csv else json.dumps(stats, ensure_ascii=False, indent=2))


def platform_now() -> datetime:
    """The real clock in the platform's zone (Asia/Shanghai by default), not the machine's."""
    return datetime.now(ZoneInfo(get_settings().default_timezone))


def _day_option(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-12-06.", param_hint=name) from None


def _example_booking(session, result) -> dict | None:
    """A slot the first enterprise can really book now (tried in a savepoint, then undone)."""
    from scheduler import booking_actions as actions
    from scheduler.booking.free_time import free_time

    member = result.actors["member"]
    now = platform_now()
    for inst in result.instruments:
        if "operator_run" not in inst.service_modes or inst.category != "XRD":
            continue
        ft = free_time(session, inst.id, now + timedelta(days=2), now + timedelta(days=16), member)
        for s, e in ft.free:
            if e - s < timedelta(hours=2):
                continue
            start = s if s.minute % 30 == 0 else s + timedelta(minutes=30 - s.minute % 30)
            data = actions.BookingInput(inst.id, start, start + timedelta(hours=2), "operator_run", sample_count=2)
            nested = session.begin_nested()
            try:
                actions.book(session, member, data)
            except Exception:  # noqa: BLE001 - only probing
                nested.rollback()
                continue
            nested.rollback()
            return {"instrument": inst, "start": data.start, "end": data.end}
    return None


def _print_intro(result, example, base: str) -> None:
    console.print("[bold]Demo API tokens[/bold] (shown once; only their hashes are stored):")
    for role, who, tok in result.tokens:
        console.print(f"  {role:<18} {who}\n      {tok}", soft_wrap=True, highlight=False, markup=False)
    console.print(f"[bold]Web sign-in[/bold] at {base}/login, one user per role (passwords random per build):")
    for role, username, password in result.logins:
        console.print(f"login: {role} {username} {password}", soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"{len(result.instruments)} instruments, {len(result.enterprises)} enterprises, {result.bookings} bookings. "
        f"API docs: {base}/docs"
    )
    member_token = next(t for r, _, t in result.tokens if r == "enterprise_member")
    lines = [f"curl -s '{base}/api/v1/instruments?category=XRD'"]
    if example:
        inst = example["instrument"]
        day0 = example["start"].replace(hour=0, minute=0)
        lines.append(
            f"curl -s '{base}/api/v1/instruments/{inst.id}/availability?start={quote(day0.isoformat())}"
            f"&end={quote((day0 + timedelta(days=1)).isoformat())}'"
        )
        body = json.dumps(
            {
                "instrument_id": inst.id,
                "start": example["start"].isoformat(),
                "end": example["end"].isoformat(),
                "service_mode": "operator_run",
                "sample_count": 2,
            }
        )
        lines.append(
            f"curl -s -X POST {base}/api/v1/bookings -H 'Authorization: Bearer {member_token}' "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
        lines.append(f"curl -s {base}/api/v1/bookings -H 'Authorization: Bearer {member_token}'")
    console.print("\n[bold]Try:[/bold]")
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    console.print()


if __name__ == "__main__":
    app()
