"""Moving a booking keeps its voucher's reservation consistent: after any sequence of self-moves
(accepted or refused by a rule), the voucher reserves what the programme's rules give for the
booking's current fee, the voucher's and the booking's ledger accounts hold its face value between
them, and the books balance — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.voucher_presets import PRESETS
from instruments.errors import DomainError
from scheduler import booking_actions as actions
from scheduler.money import ledger
from scheduler.money import vouchers as v

moves = st.lists(st.tuples(st.sampled_from([8, 9, 10, 11, 13, 14, 15, 16]), st.integers(1, 3)), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=moves)
def test_the_reservation_follows_every_move(session, world, steps):
    w = world
    now = w.at(8) - timedelta(days=2)
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(name="P", year=2026, total_budget_fen=1_000_000, rules=PRESETS["shanghai"].model_dump(mode="json")),
    )
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 50_000)
    b = actions.book(session, w.member_a, actions.BookingInput(w.xrd.id, w.at(9), w.at(10), "operator_run"), now=now)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code, now=now)
    rules = prog.parsed
    for hh, hours in steps:
        savepoint = session.begin_nested()
        try:
            actions.move(session, w.member_a, b.id, w.at(hh), w.at(hh) + timedelta(hours=hours), now=now)
            savepoint.commit()
        except DomainError:
            savepoint.rollback()
        session.refresh(b)
        session.refresh(voucher)
        assert voucher.reserved_fen == rules.voucher_part_fen(b.price_fen, False, voucher.face_value_fen)
        assert ledger.balance(session, ledger.booking(b.id)) == voucher.reserved_fen
        assert ledger.balance(session, ledger.voucher(voucher.id)) + voucher.reserved_fen == voucher.face_value_fen
        assert ledger.total(session) == 0
    actions.cancel(session, w.member_a, b.id, now=now)
    session.commit()
