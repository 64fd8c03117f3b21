"""A round's rules read ``RoundFacts`` (loaded once, after its locks) instead of the database:
in random small worlds (those of ``test_bookable_agrees``) every booking rule answers the same
for a grid of slots either way, before and after the round adds a booking of its own (written
and given to ``RoundFacts.add``)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from hypothesis import HealthCheck, given, settings

from instruments.actor import SYSTEM
from instruments.errors import Conflict
from instruments.policy import BookingPolicy
from scheduler.allocation.round_facts import RoundFacts
from scheduler.booking.bookings import Booking, BookingStatus, flush_or_conflict
from scheduler.booking.enterprises import Enterprise
from scheduler.booking.rules import Attempt, evaluate
from tests.scheduler.test_bookable_agrees import DAYS, _apply, _grid, _spread, worlds
from tests.world import TZ


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=worlds)
def test_the_rules_answer_alike_from_round_facts_and_from_the_database(db, world, spec):
    w = world
    now = datetime.combine(w.day, time(8), TZ) - timedelta(hours=spec["hours_before"])
    lo = datetime.combine(w.day, time(0), TZ)
    hi = lo + timedelta(days=DAYS)
    length = timedelta(minutes=spec["minutes"])
    with db.session() as s:
        try:
            inst, insts = _apply(s, w, spec)
            ent = s.get(Enterprise, w.ent_a.id)
            user = w.member_a.user_id
            facts = RoundFacts.load(s, {i.id: i for i in insts}, lo, hi, now, {user})
            grid = _spread(_grid(lo, hi, spec["slot"]), 24)

            def attempt(t: datetime, bulk: bool) -> Attempt:
                pol = s.get(BookingPolicy, inst.id)
                given = facts.for_attempt(inst.id, user, ent.id) if bulk else None
                return Attempt(s, SYSTEM, inst, pol, t, t + length, spec["mode"], ent, user, now, facts=given)

            def agree() -> list[datetime]:
                free = []
                for t in grid:
                    bulk, one = attempt(t, True), attempt(t, False)
                    got, want = [v.code for v in evaluate(bulk)], [v.code for v in evaluate(one)]
                    assert got == want, f"{t}: from RoundFacts {got}, from the database {want}"
                    assert [o.id for o in bulk.operators] == [o.id for o in one.operators]
                    if not got:
                        free.append(t)
                return free

            free = agree()
            if free:  # the round books the first free slot: both ways see it from now on
                a = attempt(free[0], True)
                lo_b, hi_b = a.blocked
                ops = [o.id for o in a.operators]
                b = Booking(
                    instrument_id=inst.id, enterprise_id=ent.id, user_id=user, service_mode=spec["mode"],
                    operator_id=ops[0] if ops and spec["mode"] == "operator_run" else None,
                    start=free[0], end=free[0] + length, blocked_start=lo_b, blocked_end=hi_b,
                    status=BookingStatus.tentative, price_fen=0, source="round",
                )  # fmt: skip
                try:
                    flush_or_conflict(s, b)
                except Conflict:
                    return
                facts.add(b)
                agree()
        finally:
            s.rollback()
