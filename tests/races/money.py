"""A voucher programme, open for redemption every day, and vouchers ready to use or redeem."""

from __future__ import annotations

from datetime import timedelta

from fixtures.voucher_presets import PRESETS
from scheduler import booking_actions as actions
from scheduler.money import vouchers as v

BUDGET = 10_000_000


def programme(session, w) -> v.VoucherProgramme:  # noqa: ANN001
    rules = PRESETS["shandong_jinan"].model_copy(deep=True)
    rules.redemption.kind, rules.redemption.monthly_days = "monthly", (1, 31)  # any day: no dependence on today
    return v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="Race programme", year=2026, total_budget_fen=BUDGET, rules=rules.model_dump(mode="json")
        ),
    )


def booking(session, w, hh: int = 9):  # noqa: ANN001, ANN201 - a confirmed 2 h booking of ent_a
    b = actions.book(
        session,
        w.member_a,
        actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + 2), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    actions.confirm(session, w.manager, b.id)
    return b


def consumed_voucher(session, w, prog) -> v.Voucher:  # noqa: ANN001
    """A voucher that paid for a completed service: the provider may claim it."""
    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    b = booking(session, w)
    v.apply_to_booking(session, w.member_a, b.id, voucher.code, now=w.at(8) - timedelta(days=2))
    actions.check_in(session, w.manager, b.id, now=b.start)
    actions.check_out(session, w.manager, b.id, now=b.end)
    return voucher


PROOFS = {"contract": "HT-1", "invoice": "FP-1", "payment_proof": "ZF-1", "service_record": "BG-1"}


def claim_body(session, w) -> dict:  # noqa: ANN001
    """A redemption claim by the XRD's unit for one consumed voucher (the programme and the
    voucher written and committed)."""
    prog = programme(session, w)
    voucher = consumed_voucher(session, w, prog)
    session.commit()
    return {
        "programme_id": prog.id,
        "owner_unit_id": w.xrd.owner_unit_id,
        "orders": [{"voucher_id": voucher.id, "proofs": PROOFS}],
    }
