"""Allocation rounds spend vouchers correctly: each placed voucher-funded request holds its
voucher's reservation (ledger and voucher row, in the round's transaction); a round never
overspends a voucher or a programme cap; what could not be funded is explained by name."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlmodel import select

import solver
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from scheduler.allocation import rounds as rounds_mod
from scheduler.allocation.round_problem import build_round_input
from scheduler.allocation.rounds import AllocationRound, run_round
from scheduler.booking.booking_requests import BookingRequest, RequestStatus
from scheduler.booking.bookings import Booking
from scheduler.money import ledger
from scheduler.money import vouchers as v
from scheduler.money.request_funding import submit_funded_request
from tests.world import next_workday

FAST = {"time_limit": 5, "workers": 1, "deterministic_time": 2.0}


def now_of(w):
    return w.at(8) - timedelta(days=2)


def next_workday_offset(w) -> int:
    """Days from the world's day to the working day after it (w.day may be a Friday: the day
    after it is then closed, whatever today is)."""
    return (next_workday(w.day, 1) - w.day).days


def programme(session, w, **rules) -> v.VoucherProgramme:
    r = PRESETS["shandong_jinan"].model_copy(update=rules)
    return v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(name="2026 创新券", year=2026, total_budget_fen=10_000_000, rules=r.model_dump(mode="json")),
    )


def issue(session, w, prog, ent, face=100_000) -> v.Voucher:
    return v.issue_voucher(session, w.admin, prog.id, ent.id, "testing", face, now=now_of(w) - timedelta(days=1))


def request(session, w, actor, hours: int, day_offset: int = 0, **kw) -> BookingRequest:
    start = w.at(0) + timedelta(days=day_offset)
    req = BookingRequest(
        enterprise_id=actor.enterprise_id,
        instrument_id=w.xrd.id,
        duration_minutes=60 * hours,
        earliest_start=start,
        deadline=start + timedelta(days=1),
        **kw,
    )
    return submit_funded_request(session, actor, req, now=now_of(w))


def reserved_by_booking(s) -> dict[str, int]:
    """booking id -> fen reserved for it, read from the ledger's booking accounts."""
    return {k.removeprefix("booking:"): amount for k, amount in ledger.balances(s, "booking:").items() if amount}


def test_one_voucher_funds_one_placed_request_and_the_other_is_explained(db, session, world):
    w = world
    prog = programme(session, w)
    vch = issue(session, w, prog, w.ent_a)
    first = request(session, w, w.member_a, 3, funding="any_voucher", priority=3)
    second = request(session, w, w.member_a, 3, funding="any_voucher")
    cash = request(session, w, w.member_b, 2, day_offset=next_workday_offset(w))
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    assert (rnd.placed, rnd.unplaced) == (2, 1)
    with db.session() as s:
        got = s.get(v.Voucher, vch.id)
        booking = s.exec(select(Booking).where(Booking.request_id == first.id)).one()
        assert got.status == v.VoucherStatus.reserved and got.booking_id == booking.id
        assert got.reserved_fen == booking.price_fen * 6000 // 10000 > 0  # the programme's 60 %
        assert reserved_by_booking(s) == {booking.id: got.reserved_fen}
        assert ledger.balance(s, ledger.voucher(vch.id)) == got.face_value_fen - got.reserved_fen
        assert ledger.total(s) == 0
        assert s.exec(select(Booking).where(Booking.request_id == cash.id)).one()  # cash needs no voucher
        loser = s.get(BookingRequest, second.id)
        assert loser.status == RequestStatus.unplaced
        (why,) = loser.explanation
        assert why["code"] == "voucher_taken" and vch.code in why["message"]
        assert why["requests"] == [first.id]


def test_cash_fallback_is_placed_unfunded_and_no_voucher_stays_unplaced(db, session, world):
    w = world
    fallback = request(session, w, w.member_a, 2, funding="any_voucher", cash_fallback=True)
    strict = request(session, w, w.member_b, 2, funding="any_voucher")
    session.commit()
    run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    with db.session() as s:
        assert s.get(BookingRequest, fallback.id).status == RequestStatus.allocated
        got = s.get(BookingRequest, strict.id)
        assert got.status == RequestStatus.unplaced and got.explanation[0]["code"] == "no_voucher"
        assert "allow paying in cash" in got.explanation[0]["message"]
        assert reserved_by_booking(s) == {}


def test_an_open_cap_limits_what_a_round_spends(db, session, world):
    w = world
    prog = programme(session, w)
    v1, v2 = issue(session, w, prog, w.ent_a), issue(session, w, prog, w.ent_a)
    a = request(session, w, w.member_a, 3, funding="any_voucher")
    b = request(session, w, w.member_a, 3, funding="any_voucher")
    session.commit()
    price = build_round_input(session, now_of(w))  # what one 3-hour booking's voucher part is
    part = next(iter(price.problem.vouchers[0].pays[a.id].values()))
    session.commit()
    rules = dict(prog.rules, per_enterprise_year_cap_fen=part + part // 2)  # room for one part only
    prog.rules = rules
    session.add(prog)
    session.commit()
    inp = build_round_input(session, now_of(w))
    session.commit()  # end the read (SQLite: one writer)
    assert [(c.limit, sorted(c.vouchers)) for c in inp.problem.caps] == [(part + part // 2, sorted([v1.id, v2.id]))]
    run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    with db.session() as s:
        reqs = [s.get(BookingRequest, x.id) for x in (a, b)]
        assert sorted(str(r.status) for r in reqs) == ["allocated", "unplaced"]
        loser = next(r for r in reqs if r.status == RequestStatus.unplaced)
        assert loser.explanation[0]["code"] == "voucher_cap"
        assert "Ruike Materials's cap in 2026 创新券" in loser.explanation[0]["message"]
        assert sum(reserved_by_booking(s).values()) == part <= part + part // 2


def test_a_round_that_fails_after_the_solve_leaves_no_reservation_and_no_booking(db, session, world, monkeypatch):
    w = world
    prog = programme(session, w)
    vch = issue(session, w, prog, w.ent_a)
    request(session, w, w.member_a, 2, funding="voucher", voucher_id=vch.id)
    session.commit()
    lines_before = len(session.exec(select(ledger.LedgerLine)).all())
    session.commit()
    real = rounds_mod.record

    def boom(session, actor, action, *args, **kwargs):  # the last write of a round: its audit record
        if action == "round.run":
            raise RuntimeError("disk full")
        return real(session, actor, action, *args, **kwargs)

    monkeypatch.setattr(rounds_mod, "record", boom)
    with pytest.raises(RuntimeError):
        run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    with db.session() as s:
        assert s.exec(select(Booking)).all() == []
        assert s.exec(select(AllocationRound)).all() == []
        got = s.get(v.Voucher, vch.id)
        assert (got.status, got.booking_id, got.reserved_fen) == (v.VoucherStatus.issued, None, 0)
        assert len(s.exec(select(ledger.LedgerLine)).all()) == lines_before
        assert reserved_by_booking(s) == {} and ledger.total(s) == 0
        assert {str(r.status) for r in s.exec(select(BookingRequest)).all()} == {"pending"}


def test_a_voucher_spent_during_the_solve_is_not_reserved_twice(db, session, world, monkeypatch):
    """The voucher the solver matched is checked again, locked, when the round writes."""
    from scheduler import booking_actions as actions

    w = world
    prog = programme(session, w)
    vch = issue(session, w, prog, w.ent_a)
    r = request(session, w, w.member_a, 2, funding="any_voucher")
    session.commit()
    real_solve = solver.solve
    later = timedelta(days=next_workday_offset(w))

    def solve_then_spend(problem, **kw):
        alloc = real_solve(problem, **kw)
        with db.session() as s:  # meanwhile, the enterprise uses the voucher on an instant booking
            b = actions.book(
                s, w.member_a, actions.BookingInput(w.xrd.id, w.at(8, 30) + later, w.at(10, 30) + later, "operator_run"),
                now=now_of(w),
            )
            v.apply_to_booking(s, w.member_a, b.id, vch.code, now=now_of(w))
            s.commit()
        return alloc

    monkeypatch.setattr(rounds_mod.solver, "solve", solve_then_spend)
    run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    with db.session() as s:
        got = s.get(BookingRequest, r.id)
        assert got.status == RequestStatus.unplaced and got.explanation[0]["code"] == "voucher_taken"
        assert len(reserved_by_booking(s)) == 1 and ledger.total(s) == 0


@pytest.mark.parametrize("seed", range(3))
def test_random_rounds_never_overspend_a_voucher_or_a_cap_by_the_ledger(db, session, world, seed):
    """Random vouchers, caps and requests of both enterprises: after the round, the ledger's
    reservations are one per voucher, within face value and the open caps, each for the booking
    of a voucher-funded request of the voucher's holder."""
    rng = random.Random(seed)
    w = world
    cap = rng.choice([60_000, 150_000, 400_000])
    prog = programme(session, w, per_enterprise_year_cap_fen=400_000)
    vouchers = [issue(session, w, prog, rng.choice([w.ent_a, w.ent_b]), rng.choice([20_000, 60_000, 100_000]))
                for _ in range(rng.randint(1, 4))]
    reqs = []
    for _ in range(rng.randint(3, 7)):
        actor = rng.choice([w.member_a, w.member_b])
        funding = rng.choice(["cash", "any_voucher", "any_voucher"])
        reqs.append(request(session, w, actor, rng.randint(1, 3), day_offset=rng.randint(0, 1), funding=funding,
                            cash_fallback=funding != "cash" and rng.random() < 0.3))
    prog.rules = dict(prog.rules, per_enterprise_year_cap_fen=cap)  # tightened after issue
    session.add(prog)
    session.commit()
    inp = build_round_input(session, now_of(w))
    session.commit()
    rnd = run_round(db.engine, SYSTEM, now=now_of(w), **FAST)
    assert rnd.placed + rnd.unplaced == len(reqs)
    alloc_check = solver.check(inp.problem, [])  # the problem itself is well-formed
    assert alloc_check == []
    with db.session() as s:
        assert ledger.total(s) == 0
        reserved = reserved_by_booking(s)
        held = {x.id: s.get(v.Voucher, x.id) for x in vouchers}
        spent: dict[str, int] = {}
        for x in held.values():
            if x.status == v.VoucherStatus.reserved:
                b = s.get(Booking, x.booking_id)
                req = s.get(BookingRequest, b.request_id)
                assert req.funding != "cash" and req.enterprise_id == x.holder_enterprise_id == b.enterprise_id
                assert 0 < x.reserved_fen <= x.face_value_fen and reserved[b.id] == x.reserved_fen
                spent[x.holder_enterprise_id] = spent.get(x.holder_enterprise_id, 0) + x.reserved_fen
        assert len(reserved) == len([x for x in held.values() if x.status == v.VoucherStatus.reserved])
        assert all(amount <= cap for amount in spent.values())
        for r in reqs:
            got = s.get(BookingRequest, r.id)
            booking = s.exec(select(Booking).where(Booking.request_id == r.id)).first()
            if got.funding != "cash" and not got.cash_fallback and booking is not None:
                assert booking.id in reserved  # every placed voucher-only request holds its voucher
