"""Row locks on the shared supply a booking decision reads: labs, instruments, operators.

A booking's rules read more than its instrument: the lab's capacity counts the bookings of every
instrument in the lab, and an operator may run several instruments. Locking only the instrument
row let two bookings of *different* instruments in one full lab (or with one shared operator)
both pass their checks and both commit. Every write that places or moves a booking therefore
locks, before it checks anything, all the rows its rules read, with ``SELECT … FOR UPDATE`` in one
fixed order: labs, then instruments, then operators, each by id. Any two writers that follow the
order wait for each other instead of deadlocking; a round locks the union of its placements'
rows up front, in the same order.

Why row locks and not SERIALIZABLE with retry: the contended rows are few and known before the
checks run, so a short wait gives the loser the ordinary answer of the rule it now fails (the
422 "lab full" or "no operator free", or the 409 naming the booking it collides with), with no
retry loop around every write and the same behaviour on SQLite. SQLite has no row locks (the
``FOR UPDATE`` is dropped) and needs none: every transaction of the writing engine begins with
``BEGIN IMMEDIATE`` (see ``instruments.db``; only pure reads use the deferred read engine), so
writers are serialised by the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from instruments import fact_cache
from instruments.db import keep
from instruments.errors import Conflict, NotFound
from instruments.inventory import Instrument
from instruments.policy import BookingPolicy
from instruments.staff import Operator, OperatorInstrument
from instruments.units import Lab


def lock_for_booking(session: Session, instrument_ids: Iterable[str], operators: bool = True) -> dict[str, Instrument]:
    """Lock the instruments, their labs and every operator who may run them; the instruments by id.
    ``operators=False`` leaves the operators alone: for a booking in a mode no operator works in
    (``inventory.OPERATOR_MODES``), whose rules never read an operator's time and which takes none.

    Three statements (two without operators): the labs (found through the instruments in a subquery), the instruments
    (with their booking policies, not locked, and the version tokens of their opening facts and of
    the calendar, see ``instruments.fact_cache``), the operators (through their instrument links
    in a subquery). The labs, instruments and policies are read fresh and kept in the session
    (``instruments.db.keep``): the rules read them again (``policy_of``, ``Attempt.lab``); the
    tokens let the rules read opening rules, exceptions and calendar overrides from the worker's
    cache instead of three more queries."""
    ids = sorted(set(instrument_ids))
    if not ids:
        return {}
    labs_q, instruments_q, operators_q = _lock_statements()
    labs = session.exec(labs_q, params={"ids": ids}).all()
    rows = session.exec(instruments_q, params={"ids": ids}).all()
    locked = [inst for inst, *_ in rows]
    missing = sorted(set(ids) - {i.id for i in locked})
    if missing:
        raise NotFound(f"No instrument {missing[0]!r}.")
    moved = sorted({i.lab_id for i in locked if i.lab_id} - {lab.id for lab in labs})
    if moved:  # the instrument changed labs between the two statements (rare): start over
        raise Conflict("An instrument was just moved to another lab; please retry.")
    if operators:
        session.exec(operators_q, params={"ids": ids}).all()
    keep(session, *labs, *locked, *(policy for _, policy, *_ in rows if policy is not None))
    for inst, _, token, _ in rows:
        fact_cache.note(session, fact_cache.INSTRUMENT, inst.id, token)
    fact_cache.note(session, fact_cache.CALENDAR, "", rows[0][3])
    return {i.id: i for i in locked}


@cache
def _lock_statements():  # noqa: ANN202 - three selects
    """The three locking statements, built once with the instrument ids as an expanding
    parameter: every booking runs them, and building a statement and its cache key anew each
    time costs more than running it."""
    ids = bindparam("ids", expanding=True)
    labs = (
        select(Lab)
        .where(col(Lab.id).in_(select(Instrument.lab_id).where(col(Instrument.id).in_(ids))))
        .order_by(col(Lab.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    instruments = (
        select(Instrument, BookingPolicy, fact_cache.instrument_token(Instrument.id), fact_cache.calendar_token())
        .outerjoin(BookingPolicy, col(BookingPolicy.instrument_id) == Instrument.id)
        .where(col(Instrument.id).in_(ids))
        .order_by(col(Instrument.id))
        .with_for_update(of=Instrument)
        .execution_options(populate_existing=True)
    )
    operators = (
        select(Operator.id)
        .where(col(Operator.id).in_(select(OperatorInstrument.operator_id).where(col(OperatorInstrument.instrument_id).in_(ids))))
        .order_by(col(Operator.id))
        .with_for_update()
    )
    return labs, instruments, operators
