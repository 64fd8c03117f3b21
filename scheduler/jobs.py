"""Scheduled jobs (APScheduler) with a persistent job store in the platform's own database.

With several API processes (``labshare serve --workers N``, several hosts) only one runs the jobs:
the *leader*, elected through the database (``instruments/leader.py``: a lease row renewed while
the leader lives; another process takes over within a minute of its death). Each job is also
guarded by a run lock and idempotent (a round only places what is still open, an expired voucher
is not expired twice), so the short overlap a take-over can leave never does a job twice.
Every run is counted in ``job_run`` per job and process, which is how one sees who leads.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel

from instruments.actor import SYSTEM
from instruments.db import get_engine, session_scope, utc_field, utcnow
from instruments.leader import LeaderElection
from instruments.run_lock import Busy, holding
from instruments.settings import get_settings
from scheduler.allocation.rounds import run_round
from scheduler.shared.mail_prefs import MailKind

log = logging.getLogger("labshare.jobs")
LEADER_LOCK = "job_leader"  # the run lock row whose lease makes a process the job leader
ROUND_JOB = "allocation_round"
JOB_STORE_TABLE = "apscheduler_jobs"


class JobRun(SQLModel, table=True):
    """How often each process ran each job, and how the last run went (one row per job and
    process: a handful of rows per restart, not one per run)."""

    __tablename__ = "job_run"

    job: str = Field(primary_key=True, max_length=100)
    host: str = Field(primary_key=True, max_length=255)
    pid: int = Field(primary_key=True)
    runs: int = 0
    first_at: datetime = utc_field()
    last_at: datetime = utc_field()
    last_outcome: str = Field(default="", description="ok, skipped (someone else is running it) or the error")


def record_run(database_url: str, job: str, outcome: str) -> None:
    """Count one run of ``job`` by this process (never fails the job it records)."""
    key = (job, socket.gethostname(), os.getpid())
    try:
        with session_scope(get_engine(database_url)) as session:
            row = session.get(JobRun, key)
            now = utcnow()
            if row is None:
                row = JobRun(job=key[0], host=key[1], pid=key[2], first_at=now, last_at=now)
            row.runs += 1
            row.last_at, row.last_outcome = now, outcome[:500]
            session.add(row)
    except SQLAlchemyError:
        log.warning("could not record a run of %s", job, exc_info=True)


def _guarded(database_url: str, job: str, lifetime: timedelta, work: Callable[[], Any]) -> Any:
    """Run ``work`` holding the run lock ``job``, and record the run; None when it was running
    elsewhere (a take-over overlap, or a run started by hand)."""
    try:
        with holding(get_engine(database_url), job, "job", lifetime):
            result = work()
    except Busy as exc:
        log.info("%s skipped: %s", job, exc.detail)
        record_run(database_url, job, "skipped")
        return None
    except Exception as exc:
        record_run(database_url, job, f"failed: {exc!r}")
        raise
    record_run(database_url, job, "ok")
    return result


def jobs_heartbeat(database_url: str) -> None:
    """The leader's pulse: a run every ``LABSHARE_JOBS_HEARTBEAT_SECONDS`` shows in ``job_run``
    which process runs the jobs and that its scheduler is alive."""
    record_run(database_url, "heartbeat", "ok")
MAIL_BATCH, MAIL_PASSES = 20, 10  # mails claimed at once, passes per delivery run


def run_scheduled_round(database_url: str, time_limit: float | None = None) -> str:
    """The allocation-round job (module-level so the job store can reference it by name)."""
    try:
        rnd = run_round(
            get_engine(database_url), SYSTEM, time_limit=time_limit or get_settings().round_time_limit, triggered_by="job"
        )
    except Busy as exc:  # a round started by hand is still running: it places the same requests
        log.info("allocation round skipped: %s", exc.detail)
        record_run(database_url, ROUND_JOB, "skipped")
        return ""
    except Exception as exc:
        record_run(database_url, ROUND_JOB, f"failed: {exc!r}")
        raise
    log.info("allocation round %s: %s placed, %s not placed", rnd.id, rnd.placed, rnd.unplaced)
    record_run(database_url, ROUND_JOB, "ok")
    return rnd.id


def run_voucher_housekeeping(database_url: str, now: datetime | None = None) -> dict[str, Any] | None:
    """Daily: expire vouchers past their validity, and tell providers when a redemption window
    of a programme opens today (None when another process is doing it right now). Idempotent (an expired voucher is not expired twice; the notice
    is sent once per window).

    Each programme is done on its own, expiry and notice each in its own transaction: a programme
    whose stored rules cannot be read (or any other failure) is logged and listed in
    ``failed_programmes``, and the job goes on with the others, so one bad row never stops
    vouchers elsewhere from expiring."""
    return _guarded(database_url, "voucher_housekeeping", timedelta(hours=1), lambda: _housekeeping(database_url, now))


def _housekeeping(database_url: str, now: datetime | None) -> dict[str, Any]:
    from sqlmodel import select

    from scheduler.money.vouchers import VoucherProgramme, expire_due

    now = now or utcnow()
    today = now.astimezone(ZoneInfo(get_settings().default_timezone)).date()
    engine = get_engine(database_url)
    with session_scope(engine) as session:
        programmes = list(
            session.exec(select(VoucherProgramme.id, VoucherProgramme.name).order_by(VoucherProgramme.id))
        )
    expired, notices, failed = 0, 0, []
    for programme_id, name in programmes:
        for step in ("expiry", "window notice"):
            try:
                with session_scope(engine) as session:
                    if step == "expiry":
                        expired += len(expire_due(session, SYSTEM, now, programme_id))
                    else:
                        notices += _window_notice(session, programme_id, today, now)
            except Exception:
                log.exception(
                    "voucher housekeeping: %s failed for programme %s (%s); the other programmes go on",
                    step,
                    programme_id,
                    name,
                )
                if programme_id not in failed:
                    failed.append(programme_id)
    return {"expired": expired, "window_notices": notices, "failed_programmes": failed}


def _window_notice(session: Session, programme_id: str, today: date, now: datetime | None = None) -> int:
    """Announce the programme's redemption window if one is open ``today`` (once per window)."""
    from sqlmodel import select

    from scheduler.money.vouchers import get_programme
    from scheduler.shared.notifications import Notification, notify

    prog = get_programme(session, programme_id)
    window = prog.parsed.redemption.window_at(today)
    subject = f"{prog.name}: redemption window {window} is open"
    if not window or session.exec(select(Notification).where(Notification.subject == subject)).first():
        return 0
    notify(
        session,
        subject,
        "File claims for completed voucher orders with proof: POST /api/v1/redemption-claims",
        kind=MailKind.redemption_window_open,
        key=f"redemption_window_open:{prog.id}:{window}",
        data={"programme": prog.name, "window": str(window)},
        roles=("lab_manager",),
        now=now,
    )
    return 1


def run_time_offers(database_url: str, now: datetime | None = None) -> dict[str, int] | None:
    """Every minute: expire unanswered offers of freed time (their time to the next request in
    line) and offer the spans cancellations, moves and no-shows queued (``scheduler.time_offers``);
    None when another process is doing it right now."""
    from scheduler.time_offers import run_offer_pass

    return _guarded(database_url, "time_offers", timedelta(minutes=10),
                    lambda: run_offer_pass(get_engine(database_url), now))


def run_year_end_rewards(database_url: str) -> list[str] | None:
    """The year-end job: ``run_scheduled_rewards`` under its run lock (None: running elsewhere)."""
    from scheduler.sharing.rewards import run_scheduled_rewards

    return _guarded(database_url, "year_end_rewards", timedelta(hours=6), lambda: run_scheduled_rewards(database_url))


def run_reminders(database_url: str, now: datetime | None = None) -> int:
    """Hourly: mail a reminder for every tentative or confirmed booking that starts within the
    next 24 hours, once per booking and start time (a moved booking is reminded again)."""
    from sqlmodel import col, select

    from instruments.catalogue import get_instrument
    from instruments.db import session_scope, utcnow
    from scheduler.booking.bookings import Booking, BookingStatus
    from scheduler.money.price_split import mail_data
    from scheduler.shared.outbox import already_told, enqueue

    now = now or utcnow()
    sent = 0
    with session_scope(get_engine(database_url)) as session:
        due = session.exec(
            select(Booking)
            .where(
                col(Booking.status).in_((BookingStatus.tentative, BookingStatus.confirmed)),
                Booking.start > now,
                Booking.start <= now + timedelta(hours=24),
            )
            .order_by(Booking.start, Booking.id)
        ).all()
        for b in due:
            key = f"booking_reminder:{b.id}:{b.start.isoformat()}"
            if already_told(session, key):
                continue
            data = mail_data(session, b, get_instrument(session, b.instrument_id))
            sent += len(enqueue(session, MailKind.booking_reminder, key, data, user_id=b.user_id, enterprise_id=b.enterprise_id, now=now))
    return sent


def run_voucher_warnings(database_url: str, now: datetime | None = None, days: int = 30) -> int:
    """Daily: warn the holders of every unused voucher that expires within ``days`` days, once
    per voucher."""
    from sqlmodel import col, select

    from instruments.db import session_scope, utcnow
    from scheduler.money.vouchers import SPENDABLE, Voucher, get_programme, voucher_mail_data
    from scheduler.shared.outbox import already_told, enqueue

    now = now or utcnow()
    sent = 0
    with session_scope(get_engine(database_url)) as session:
        due = session.exec(
            select(Voucher)
            .where(col(Voucher.status).in_(SPENDABLE), Voucher.expires_at > now, Voucher.expires_at <= now + timedelta(days=days))
            .order_by(Voucher.id)
        ).all()
        for v in due:
            key = f"voucher_expiring:{v.id}"
            if already_told(session, key):
                continue
            data = voucher_mail_data(v, get_programme(session, v.programme_id)) | {"days": days}
            sent += len(enqueue(session, MailKind.voucher_expiring, key, data, enterprise_id=v.holder_enterprise_id, now=now))
    return sent


def run_mail_delivery(database_url: str, now: datetime | None = None) -> dict[str, int]:
    """Every ``mail_interval_seconds``: send due mail from the outbox (nothing without
    ``LABSHARE_SMTP_URL``: the mail waits, readable in the app)."""
    from instruments.db import utcnow
    from scheduler.shared.outbox import deliver_due
    from scheduler.shared.smtp import SmtpConfig, sender_for

    settings = get_settings()
    if not settings.smtp_url:
        return {"sent": 0, "retry": 0, "failed": 0}
    config = SmtpConfig.from_url(settings.smtp_url, settings.smtp_timeout)
    total = {"sent": 0, "retry": 0, "failed": 0}
    for _ in range(MAIL_PASSES):  # bounded: a backlog goes out over several runs
        done = deliver_due(
            get_engine(database_url),
            sender_for(config),
            now or utcnow(),
            sender=settings.mail_from,
            max_attempts=settings.mail_max_attempts,
            backoff_seconds=settings.mail_backoff_seconds,
            lease_seconds=settings.mail_lease_seconds,
            limit=MAIL_BATCH,
        )
        total = {k: total[k] + done[k] for k in total}
        if sum(done.values()) < MAIL_BATCH:
            break
    return total


def make_scheduler(database_url: str, cron: str | None = None, timezone: str | None = None) -> BackgroundScheduler:
    """The jobs, in a scheduler whose job store is the platform's database. A job already stored
    with the same function, arguments and trigger keeps its stored next run time, so a run that
    fell due while no process led (a restart, a take-over) still runs once when the next leader
    starts (within ``misfire_grace_time``), instead of being skipped to the next day."""
    settings = get_settings()
    tz = ZoneInfo(timezone or settings.default_timezone)
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url, tablename=JOB_STORE_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=tz,
    )
    stored = _stored_jobs(database_url)
    jobs: list[tuple[Any, Any, str, str]] = [
        (run_scheduled_round, CronTrigger.from_crontab(cron or settings.round_cron, timezone=tz), ROUND_JOB,
         "Allocation round"),
        (run_voucher_housekeeping, CronTrigger(hour=0, minute=10, timezone=tz), "voucher_housekeeping",
         "Expire vouchers, announce redemption windows"),
        # year-end open-sharing evaluation of the previous year (idempotent: same data, same report)
        (run_year_end_rewards, CronTrigger(month=1, day=5, hour=2, minute=0, timezone=tz), "year_end_rewards",
         "Year-end open-sharing evaluation and rewards"),
        (jobs_heartbeat, IntervalTrigger(seconds=settings.jobs_heartbeat_seconds, timezone=tz), "jobs_heartbeat",
         "Job leader heartbeat"),
        (run_reminders, CronTrigger(minute=5, timezone=tz), "booking_reminders",
         "Remind bookings that start within a day"),
        (run_voucher_warnings, CronTrigger(hour=9, minute=0, timezone=tz), "voucher_warnings",
         "Warn of vouchers expiring within 30 days"),
        (run_time_offers, IntervalTrigger(minutes=1, timezone=tz), "time_offers",
         "Offer freed time to waiting requests, expire unanswered offers"),
        (run_mail_delivery, IntervalTrigger(seconds=settings.mail_interval_seconds, timezone=tz), "mail_delivery",
         "Send due mail from the outbox"),
    ]
    for func, trigger, job_id, name in jobs:
        kept: dict[str, Any] = {}
        state = stored.get(job_id)
        if state and _same_job(state, func, [database_url], trigger) and state.get("next_run_time"):
            kept["next_run_time"] = state["next_run_time"]
        scheduler.add_job(func, trigger, args=[database_url], id=job_id, name=name, replace_existing=True, **kept)
    return scheduler


def _stored_jobs(database_url: str) -> dict[str, dict[str, Any]]:
    """The job states in the store (APScheduler pickles them), by job id; empty before the first start."""
    engine = get_engine(database_url)
    try:
        if not inspect(engine).has_table(JOB_STORE_TABLE):
            return {}
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, job_state FROM {JOB_STORE_TABLE}")).all()
    except SQLAlchemyError:
        log.warning("could not read the job store; jobs start from their next time", exc_info=True)
        return {}
    out = {}
    for job_id, blob in rows:
        try:
            out[job_id] = pickle.loads(blob)  # noqa: S301 - written by APScheduler into our own database
        except Exception:  # noqa: BLE001 - a state from another version: replaced anyway
            continue
    return out


def _same_job(state: dict[str, Any], func: Any, args: list[Any], trigger: Any) -> bool:
    ref = f"{func.__module__}:{func.__qualname__}"
    return state.get("func") == ref and list(state.get("args", ())) == args and str(state.get("trigger")) == str(trigger)


class JobLeader:
    """This process's part in running the jobs: campaign for the leader lease and, while leading,
    run the scheduler (started when elected, shut down when deposed or stopped)."""

    def __init__(self, database_url: str, lease: timedelta | None = None) -> None:
        self.database_url = database_url
        self.scheduler: BackgroundScheduler | None = None
        self.election = LeaderElection(
            get_engine(database_url),
            LEADER_LOCK,
            lease or timedelta(seconds=get_settings().job_lease_seconds),
            on_elected=self._start_jobs,
            on_deposed=self._stop_jobs,
        )

    def _start_jobs(self) -> None:
        self.scheduler = make_scheduler(self.database_url)
        self.scheduler.start()

    def _stop_jobs(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    def start(self) -> JobLeader:
        self.election.start()
        return self

    def stop(self) -> None:
        self.election.stop()
