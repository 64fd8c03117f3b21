"""The demo data: realistic, deterministic and valid on any day (the printed logins and curl lines are
tested against a live demo in tests/booking_api/test_cli_database.py). Its determinism: the build
of each database equals the run's shared SQLite build of the same day (``tests/shared_demo.py``),
another build, which the browser tests of the office console serve too."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import col, func, select

from fixtures.demo import TZ, build_demo
from instruments.inventory import Instrument
from instruments.units import OwnerUnit
from scheduler.booking import credit_code
from scheduler.booking.booking_requests import BookingRequest, RequestStatus
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.booking.enterprises import Enterprise
from scheduler.money.redemption import ClaimItem, ItemStatus, PaymentBatch
from tests.shared_demo import DEMO_DAY, copy_demo

TODAY = DEMO_DAY

# Days on which a calendar-driven demo is most likely to go wrong: month ends (the 29th-31st),
# a leap day, New Year's Eve and Day (the programme year turns), Spring Festival and National Day
# (a week of holidays around "today", with 调休 Saturdays).
AWKWARD_DAYS = [
    date(2026, 12, 31),
    date(2027, 1, 1),
    SPRING_FESTIVAL_EVE := date(2027, 2, 6),  # Spring Festival's eve, 2027 (on both databases)
    date(2028, 2, 29),
    date(2027, 8, 31),
    date(2027, 10, 1),  # National Day
]


def _bookings_snapshot(session) -> list[tuple]:  # noqa: ANN001
    """Every booking as (id, instrument, start, end, status), in id order (sorted here: PostgreSQL
    may collate ids otherwise than SQLite)."""
    rows = session.exec(select(Booking)).all()
    out = sorted((b.id, b.instrument_id, b.start, b.end, str(b.status)) for b in rows)
    session.rollback()  # end the read transaction before the next write
    return out


def _shared_snapshot(tmp_path_factory, directory) -> list[tuple]:  # noqa: ANN001
    """The bookings of the run's shared demo (built once per run, on SQLite, maybe by another
    test process), read from a copy of it."""
    from sqlmodel import Session

    from instruments.db import get_engine

    engine = get_engine(copy_demo(tmp_path_factory, directory))
    try:
        with Session(engine) as session:
            return _bookings_snapshot(session)
    finally:
        engine.dispose()


def test_demo_is_realistic_and_valid_and_its_year_end_pays_out_and_deterministic(
    db, session, tmp_path_factory, tmp_path
):
    demo = build_demo(session, TODAY)
    session.commit()
    first = _bookings_snapshot(session)
    assert session.exec(select(func.count()).select_from(OwnerUnit)).one() >= 3
    instruments = session.exec(select(Instrument)).all()
    assert len(instruments) >= 40
    assert len({i.category for i in instruments}) >= 8
    models = {(i.manufacturer, i.model) for i in instruments}
    assert ("Bruker", "AVANCE NEO 600") in models and ("Agilent", "7900") in models
    assert all(i.fee_hour_external_fen > 0 and i.original_value_fen > 0 for i in instruments)
    ents = session.exec(select(Enterprise)).all()
    assert len(ents) >= 20 and all(credit_code.problem(e.credit_code) is None for e in ents)
    bookings = session.exec(select(Booking)).all()
    assert len(bookings) == demo.bookings >= 200
    days = {b.start.astimezone(TZ).date() for b in bookings}
    assert (max(days) - min(days)).days >= 25
    done = [b for b in bookings if b.status == BookingStatus.completed]
    ahead = session.exec(select(Booking).where(col(Booking.status) == BookingStatus.confirmed)).all()
    assert done and ahead and all(b.checked_out_at for b in done)
    from scheduler.time_offers import TimeOffer

    (offer,) = session.exec(select(TimeOffer)).all()  # a booking cancelled this morning, its time offered
    assert offer.status == "offered" and offer.expires_at <= offer.start
    _year_end_pays_out(session)
    session.rollback()
    # built again on the same day with the same (default) seed, on SQLite: the same demo (on
    # PostgreSQL too, whose build was the only other one of this day)
    assert _shared_snapshot(tmp_path_factory, tmp_path) == first


def _year_end_pays_out(session) -> None:  # noqa: ANN001
    """The demo holds a year of usage logs: its year-end run no longer grades every unit 较差 and
    pays nothing; under the fixed-budget preset the rewards sum to the budget to the fen."""
    from fixtures.reward_rules import load_presets
    from instruments.actor import SYSTEM
    from scheduler.sharing import rewards

    load_presets(session, SYSTEM, ["budget-demo"])
    report = rewards.run_year_end(
        session, SYSTEM, TODAY.year, "budget-demo", now=datetime(2026, 12, 1, tzinfo=TZ)
    ).report
    units = report.results["units"]
    assert len({u["grade"] for u in units}) >= 2 and any(u["eligible"] for u in units)
    assert report.total_reward_fen == report.budget_fen == sum(u["reward_fen"] for u in units) > 0
    assert (
        rewards.payout_warnings(
            rewards.RuleDocument.model_validate(report.inputs["rule_set"]["document"]), report.results
        )[0].code
        == "poor_units"
    )


@pytest.mark.parametrize("today", [d for d in AWKWARD_DAYS if d != SPRING_FESTIVAL_EVE], ids=str)
def test_demo_builds_whole_on_any_day(_databases, today):
    """Whatever day it is built on, the demo has done and upcoming bookings, filed and paid voucher
    claims, and open requests: nothing is silently left out on a month end or a holiday. The days
    are the generator's calendar, not the database's: they run on SQLite, and one of them on both
    databases (``test_demo_builds_whole_on_spring_festival_eve``) — a demo build on PostgreSQL costs
    about 20 s of the suite's time."""
    sqlite = _databases["sqlite"]
    sqlite.clean()
    try:
        with sqlite.session() as session:
            _builds_whole(session, today)
    finally:
        sqlite.clean()


def test_demo_builds_whole_on_spring_festival_eve(db, session):
    _builds_whole(session, SPRING_FESTIVAL_EVE)


def _builds_whole(session, today: date) -> None:  # noqa: ANN001
    demo = build_demo(session, today)
    session.commit()
    bookings = session.exec(select(Booking)).all()
    assert len(bookings) == demo.bookings >= 150
    assert any(b.status == BookingStatus.completed and b.start.astimezone(TZ).date() < today for b in bookings)
    assert any(b.status == BookingStatus.confirmed and b.start.astimezone(TZ).date() > today for b in bookings)
    items = session.exec(select(ClaimItem)).all()
    assert items and any(i.status == ItemStatus.paid for i in items)
    assert session.exec(select(func.count()).select_from(PaymentBatch)).one() == 1
    requests = session.exec(select(BookingRequest)).all()
    assert len(requests) == 12 and all(r.status == RequestStatus.pending for r in requests)
    assert all(r.deadline.astimezone(TZ).date() > today for r in requests)
