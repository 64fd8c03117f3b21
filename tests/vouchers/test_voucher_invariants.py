"""Invariants under random operations: the ledger balances to zero, no voucher goes below zero or
above its face value, no enterprise passes its cap, no order is paid twice; and concurrent
applications of one voucher never overspend it (PostgreSQL row locks / SQLite serialised writes)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import col, func, select

from booking_api.tables import metadata
from fixtures.voucher_presets import PRESETS
from instruments.errors import DomainError
from scheduler import booking_actions as actions
from scheduler.money import ledger, redemption, revocation
from scheduler.money import vouchers as v
from tests.world import TZ

CAP = 250_000
PROOFS = {"contract": "c", "invoice": "i", "payment_proof": "p", "service_record": "s"}
WINDOW = datetime(2026, 12, 5, 10, tzinfo=TZ)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(0, 1), st.integers(1, 150_000)),
        st.tuples(st.just("apply"), st.integers(0, 9), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("complete"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("claim"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("approve"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("revoke"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("pay"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


WORLD = {"owner_unit", "lab", "instrument", "booking_policy", "opening_rule", "operator", "operator_instrument",
         "enterprise", "app_user", "api_token", "qualification", "availability_exception", "calendar_override"}


def clean_money(s) -> None:
    """Empty everything but the world (bookings, vouchers, ledger and whatever hangs off them)."""
    for t in reversed(metadata.sorted_tables):
        if t.name not in WORLD:
            s.exec(text(f'DELETE FROM "{t.name}"'))
    s.commit()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=ops)
def test_random_voucher_operations_keep_the_books(db, world, steps):
    w = world
    with db.session() as s:
        clean_money(s)
        rules = PRESETS["shandong_jinan"].model_copy(update={"per_enterprise_year_cap_fen": CAP})
        prog = v.create_programme(
            s,
            w.admin,
            v.VoucherProgramme(name="P", year=2026, total_budget_fen=1_000_000, rules=rules.model_dump(mode="json")),
        )
        now = w.at(8) - timedelta(days=2)
        members = [w.member_a, w.member_b]
        bookings = []
        for i, hh in enumerate((9, 10, 11, 14, 15, 16)):
            who = members[i % 2]
            bookings.append(
                actions.book(
                    s,
                    w.manager,
                    actions.BookingInput(
                        w.xrd.id if i < 5 else w.sem.id,
                        w.at(hh),
                        w.at(hh + 1),
                        "self_operated",
                        enterprise_id=who.enterprise_id,
                    ),
                    now=now,
                )
            )
        s.commit()
        vouchers: list[v.Voucher] = []
        for op, a, b in steps:
            try:
                with s.begin_nested():
                    if op == "issue":
                        vouchers.append(v.issue_voucher(s, w.admin, prog.id, [w.ent_a, w.ent_b][a].id, "testing", b))
                    elif op == "apply" and vouchers:
                        vch = vouchers[a % len(vouchers)]
                        bk = bookings[b]
                        holder = w.member_a if vch.holder_enterprise_id == w.ent_a.id else w.member_b
                        v.apply_to_booking(s, holder, bk.id, vch.code)
                    elif op == "cancel":
                        actions.cancel(s, w.manager, bookings[a].id, now=now)
                    elif op == "complete":
                        bk = bookings[a]
                        actions.check_in(s, w.manager, bk.id, now=bk.start)
                        actions.check_out(s, w.manager, bk.id, now=bk.end)
                    elif op == "claim" and vouchers:
                        vch = vouchers[a % len(vouchers)]
                        if vch.provider_unit_id:
                            redemption.file_claim(
                                s,
                                w.manager,
                                prog.id,
                                vch.provider_unit_id,
                                [{"voucher_id": vch.id, "proofs": PROOFS}],
                                now=WINDOW,
                            )
                    elif op == "approve":
                        items = s.exec(select(redemption.ClaimItem).order_by(redemption.ClaimItem.id)).all()
                        if items:
                            redemption.decide(
                                s, w.admin, items[a % len(items)].id, approve=b, reason="" if b else "no proof"
                            )
                    elif op == "revoke" and vouchers:
                        revocation.revoke(s, w.admin, vouchers[a % len(vouchers)].id, "test", fraud=b)
                    elif op == "pay":
                        batch = redemption.create_batch(s, w.admin, prog.id)
                        redemption.mark_paid(s, w.admin, batch.id)
            except DomainError:
                pass
            s.commit()
            # the ledger balances to zero
            assert ledger.total(s) == 0
            # no voucher below zero or above its face value
            for vch in s.exec(select(v.Voucher)).all():
                assert 0 <= ledger.balance(s, ledger.voucher(vch.id)) <= vch.face_value_fen
                assert 0 <= vch.reserved_fen <= vch.face_value_fen and 0 <= vch.consumed_fen <= vch.face_value_fen
            # no enterprise passes its cap
            for ent in (w.ent_a, w.ent_b):
                assert v.committed_fen(s, prog.id, [ent.id]) <= CAP
            # no order paid twice
            pays = s.exec(
                select(ledger.LedgerLine.voucher_id, func.count())
                .where(ledger.LedgerLine.kind == "pay", ledger.LedgerLine.amount_fen > 0)
                .group_by(ledger.LedgerLine.voucher_id)
            ).all()
            assert all(n == 1 for _, n in pays)
            # money never appears from nowhere: the programme's budget never goes negative
            assert ledger.balance(s, ledger.budget(prog.id)) >= 0


def test_concurrent_applications_of_one_voucher_never_overspend(db, world):
    w = world
    with db.session() as s:
        prog = v.create_programme(
            s,
            w.admin,
            v.VoucherProgramme(
                name="P", year=2026, total_budget_fen=1_000_000, rules=PRESETS["shanghai"].model_dump(mode="json")
            ),
        )
        vch = v.issue_voucher(s, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
        now = w.at(8) - timedelta(days=2)
        ids = []
        for hh in (9, 10, 11, 14, 15, 16):
            for inst in (w.xrd, w.sem):
                if inst is w.sem and hh in (10, 15):
                    continue  # the SEM's buffers need a gap
                b = actions.book(
                    s,
                    w.manager,
                    actions.BookingInput(inst.id, w.at(hh), w.at(hh + 1), "self_operated", enterprise_id=w.ent_a.id),
                    now=now,
                )
                ids.append(b.id)
        s.commit()
    barrier = threading.Barrier(len(ids))
    wins, errors = [], []

    def run(booking_id: str) -> None:
        with db.session() as s:
            barrier.wait()
            try:
                v.apply_to_booking(s, w.member_a, booking_id, vch.code)
                s.commit()
                wins.append(booking_id)
            except DomainError as exc:
                s.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(wins) == 1 and len(errors) == len(ids) - 1
    with db.session() as s:
        assert ledger.total(s) == 0
        assert 0 <= ledger.balance(s, ledger.voucher(vch.id)) <= 100_000
        assert (
            s.exec(select(func.count()).select_from(v.Voucher).where(col(v.Voucher.booking_id).is_not(None))).one() == 1
        )
