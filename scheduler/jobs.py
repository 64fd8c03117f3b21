"""Scheduled jobs (APScheduler) with a persistent job store in the platform's own database.

Jobs are idempotent (a round only places what is still open), so a job that runs twice does no
harm. With several API processes only one runs jobs: the *leader*, which holds a PostgreSQL
advisory lock (SQLite: an exclusive file lock beside the database) for as long as it lives.
"""

from __future__ import annotations

import fcntl
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from instruments.actor import SYSTEM
from instruments.db import get_engine
from instruments.run_lock import Busy
from instruments.settings import get_settings
from scheduler.allocation.rounds import run_round
from scheduler.shared.mail_prefs import MailKind

log = logging.getLogger("labshare.jobs")
LEADER_KEY = 0x1AB5_4A2E  # advisory lock id of the job leader
ROUND_JOB = "allocation_round"
MAIL_BATCH, MAIL_PASSES = 20, 10  # mails claimed at once, passes per delivery run


def run_scheduled_round(database_url: str, time_limit: float | None = None) -> str:
    """The allocation-round job (module-level so the job store can reference it by name)."""
    try:
        rnd = run_round(
            get_engine(database_url), SYSTEM, time_limit=time_limit or get_settings().round_time_limit, triggered_by="job"
        )
    except Busy as exc:  # a round started by hand is still running: it places the same requests
        log.info("allocation round skipped: %s", exc.detail)
        return ""
    log.info("allocation round %s: %s placed, %s not placed", rnd.id, rnd.placed, rnd.unplaced)
    return rnd.id


def run_voucher_housekeeping(database_url: str, now: datetime | None = None) -> dict[str, Any]:
    """Daily: expire vouchers past their validity, and tell providers when a redemption window
    of a programme opens today. Idempotent (an expired voucher is not expired twice; the notice
    is sent once per window).

    Each programme is done on its own, expiry and notice each in its own transaction: a programme
    whose stored rules cannot be read (or any other failure) is logged and listed in
    ``failed_programmes``, and the job goes on with the others, so one bad row never stops
    vouchers elsewhere from expiring."""
    from sqlmodel import select

    from instruments.db import session_scope, utcnow
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
    settings = get_settings()
    tz = ZoneInfo(timezone or settings.default_timezone)
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=tz,
    )
    scheduler.add_job(
        run_scheduled_round,
        CronTrigger.from_crontab(cron or settings.round_cron, timezone=tz),
        args=[database_url],
        id=ROUND_JOB,
        name="Allocation round",
        replace_existing=True,
    )
    scheduler.add_job(
        run_voucher_housekeeping,
        CronTrigger(hour=0, minute=10, timezone=tz),
        args=[database_url],
        id="voucher_housekeeping",
        name="Expire vouchers, announce redemption windows",
        replace_existing=True,
    )
    scheduler.add_job(  # year-end open-sharing evaluation of the previous year (idempotent: same data, same report)
        "scheduler.sharing.rewards:run_scheduled_rewards",
        CronTrigger(month=1, day=5, hour=2, minute=0, timezone=tz),
        args=[database_url],
        id="year_end_rewards",
        name="Year-end open-sharing evaluation and rewards",
        replace_existing=True,
    )
    scheduler.add_job(
        run_reminders,
        CronTrigger(minute=5, timezone=tz),
        args=[database_url],
        id="booking_reminders",
        name="Remind bookings that start within a day",
        replace_existing=True,
    )
    scheduler.add_job(
        run_voucher_warnings,
        CronTrigger(hour=9, minute=0, timezone=tz),
        args=[database_url],
        id="voucher_warnings",
        name="Warn of vouchers expiring within 30 days",
        replace_existing=True,
    )
    scheduler.add_job(
        run_mail_delivery,
        IntervalTrigger(seconds=settings.mail_interval_seconds, timezone=tz),
        args=[database_url],
        id="mail_delivery",
        name="Send due mail from the outbox",
        replace_existing=True,
    )
    return scheduler


@dataclass
class Leadership:
    """Held while this process is the job leader; ``release()`` gives it up."""

    handle: Any
    kind: str

    def release(self) -> None:
        if self.kind == "postgresql":
            self.handle.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_KEY})
            self.handle.close()
        else:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def try_lead(database_url: str) -> Leadership | None:
    """Become the job leader if no other process is; ``None`` when another one leads."""
    url = make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    if url.get_backend_name() == "postgresql":
        conn = get_engine(database_url).connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar():
            return Leadership(conn, "postgresql")
        conn.close()
        return None
    path = (
        Path(url.database or "labshare.db").with_suffix(".jobs.lock")
        if url.database not in (None, ":memory:")
        else None
    )
    if path is None:
        return None
    handle = open(path, "a+")  # noqa: SIM115 - held open for the lifetime of the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return Leadership(handle, "file")
