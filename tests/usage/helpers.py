"""A hand-computed usage fixture over the test world (figures worked out in the comments)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.sharing.usage import UsageRecord, UsageSource, record_usage
from tests.world import TZ


def t(y: int, mo: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, mo, d, hh, mm, tzinfo=TZ)


def use(session: Session, w, inst, start: datetime, minutes: int, **kw) -> UsageRecord:
    kw.setdefault("measure_minutes", minutes - kw.get("setup_minutes", 0) - kw.get("post_minutes", 0))
    return record_usage(
        session,
        w.admin,
        UsageRecord(
            instrument_id=inst.id,
            started_at=start,
            ended_at=start + timedelta(minutes=minutes),
            source=UsageSource.operator_log,
            **kw,
        ),
    )


def build(session: Session, w) -> None:
    """xrd (unit 1, 1,000,000 RMB), sem (unit 1, 600,000 RMB, category SEM), other (unit 2, 400,000 RMB).

    xrd in 2026 (Asia/Shanghai): effective 165+90+110+60+60 = 485 min, external 395 min;
    income internal 9,000 fen, external 80,000+50,000+10,000+12,000 = 152,000 fen; voucher 20,000;
    external users Li, Chen (2), enterprises ent_a, ent_b (2); ratings 5 and 3; samples 6.
    sem: 60 internal minutes, no fee. other: 480 external min, 200,000 fen, user Zhao (ent_b), rating 4.
    Outside 2026: one record ending 2025-12-31 23:50 and one starting 2027-01-01 00:10 (local).
    """
    w.xrd.original_value_fen = 100_000_000
    w.sem.original_value_fen = 60_000_000
    w.other.original_value_fen = 40_000_000
    for i in (w.xrd, w.sem, w.other):
        session.add(i)
    a, b = w.ent_a.id, w.ent_b.id
    use(
        session,
        w,
        w.xrd,
        t(2026, 3, 2, 9),
        180,
        setup_minutes=15,
        measure_minutes=120,
        post_minutes=30,
        idle_minutes=15,
        user_name="Li",
        enterprise_id=a,
        fee_fen=80_000,
        voucher_fen=20_000,
        rating=5,
        samples=4,
    )
    use(session, w, w.xrd, t(2026, 3, 3, 9), 90, external=False, user_name="Wang", fee_fen=9_000, rating=3)
    use(
        session,
        w,
        w.xrd,
        t(2026, 6, 1, 14),
        120,
        setup_minutes=10,
        measure_minutes=100,
        user_name="Chen",
        enterprise_id=b,
        fee_fen=50_000,
        samples=2,
    )
    use(session, w, w.xrd, t(2026, 12, 31, 23, 30), 60, user_name="Li", enterprise_id=a, fee_fen=10_000)
    use(session, w, w.xrd, t(2026, 1, 1, 0, 10), 60, user_name="Chen", enterprise_id=b, fee_fen=12_000)
    use(session, w, w.xrd, t(2025, 12, 31, 23, 0), 50, user_name="Li", enterprise_id=a, fee_fen=99_999)
    use(session, w, w.xrd, t(2027, 1, 1, 0, 10), 60, user_name="Li", enterprise_id=a, fee_fen=99_999)
    use(session, w, w.sem, t(2026, 4, 1, 10), 60, external=False, user_name="Wang")
    use(
        session,
        w,
        w.other,
        t(2026, 5, 5, 9),
        480,
        measure_minutes=420,
        post_minutes=60,
        user_name="Zhao",
        enterprise_id=b,
        fee_fen=200_000,
        rating=4,
    )
    # bookings of xrd due in 2026: 3 completed + 1 no-show (+ 1 cancelled, not counted) → no-show rate 1/4
    for n, status in enumerate(["completed"] * 3 + ["no_show", "cancelled"]):
        s = t(2026, 2, 2 + n, 9)
        session.add(
            Booking(
                instrument_id=w.xrd.id,
                enterprise_id=a,
                service_mode="operator_run",
                start=s,
                end=s + timedelta(hours=1),
                blocked_start=s,
                blocked_end=s + timedelta(hours=1),
                status=BookingStatus(status),
            )
        )
    session.commit()
