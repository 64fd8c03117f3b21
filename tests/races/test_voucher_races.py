"""Vouchers applied at once to one booking: one pays (a booking takes one voucher), the others
are refused with 409, and the ledger stays balanced."""

from __future__ import annotations

from sqlmodel import select

from scheduler.money import ledger
from scheduler.money import vouchers as v
from tests.booking_api.conftest import auth

from . import money
from .burst import CLIENTS, http_burst, statuses


def test_different_vouchers_applied_at_once_to_one_booking(db, world, session, app):
    w = world
    prog = money.programme(session, w)
    codes = [v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 10_000).code for _ in range(CLIENTS)]
    b = money.booking(session, w)
    session.commit()

    def apply(client, i):  # noqa: ANN001, ANN202
        return client.post(f"/api/v1/bookings/{b.id}/voucher", json={"code": codes[i]}, headers=auth(w, "member_a"))

    answers = http_burst(app, apply)
    assert statuses(answers) == {201: 1, 409: CLIENTS - 1}, [r.text for r in answers if r.status_code != 409]
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers if r.status_code == 409)
    session.expire_all()
    reserved = session.exec(select(v.Voucher).where(v.Voucher.status == v.VoucherStatus.reserved)).all()
    assert len(reserved) == 1 and reserved[0].booking_id == b.id
    assert ledger.balance(session, ledger.booking(b.id)) == reserved[0].reserved_fen > 0
    assert ledger.total(session) == 0
    assert sum(ledger.balances(session, "voucher:").values()) == 10_000 * CLIENTS - reserved[0].reserved_fen


def test_one_voucher_applied_at_once_to_many_bookings_pays_one(db, world, session, app):
    """The mirror case: one voucher, several bookings of its holder; the voucher row referees."""
    w = world
    prog = money.programme(session, w)
    code = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000).code
    bookings = [money.booking(session, w, hh) for hh in (9, 14)]
    session.commit()

    def apply(client, i):  # noqa: ANN001, ANN202
        bid = bookings[i % len(bookings)].id
        return client.post(f"/api/v1/bookings/{bid}/voucher", json={"code": code}, headers=auth(w, "member_a"))

    answers = http_burst(app, apply)
    assert statuses(answers) == {201: 1, 409: CLIENTS - 1}, statuses(answers)
    session.expire_all()
    assert ledger.total(session) == 0
    assert sum(ledger.balance(session, ledger.booking(b.id)) for b in bookings) > 0
    assert sum(1 for b in bookings if ledger.balance(session, ledger.booking(b.id))) == 1


def test_parallel_filings_of_one_order_file_it_once(db, world, session, app):
    """Different keys (or none): each filing is its own claim, but the order is filed once."""
    from scheduler.money.redemption import ClaimItem

    w = world
    body = money.claim_body(session, w)
    answers = http_burst(app, lambda c, i: c.post("/api/v1/redemption-claims", json=body, headers=auth(w, "manager")))
    assert statuses(answers) == {201: CLIENTS}, statuses(answers)
    outcomes = sorted(r.json()["outcomes"][0]["outcome"] for r in answers)
    assert outcomes.count("filed") == 1 and outcomes.count("already_filed") == CLIENTS - 1
    session.expire_all()
    assert len(session.exec(select(ClaimItem)).all()) == 1
    assert ledger.total(session) == 0


def test_parallel_issues_stop_at_the_budget(db, world, session, app):
    """The programme row referees its budget: exactly as many vouchers as fit are issued."""
    w = world
    prog = money.programme(session, w)
    session.commit()
    face = money.BUDGET // 8  # eight fit

    def issue(client, i):  # noqa: ANN001, ANN202
        body = {"enterprise_id": (w.ent_a.id, w.ent_b.id)[i % 2], "voucher_type": "testing", "face_value_fen": face}
        return client.post(f"/api/v1/voucher-programmes/{prog.id}/vouchers", json=body, headers=auth(w, "admin"))

    answers = http_burst(app, issue)
    assert statuses(answers) == {201: 8, 409: CLIENTS - 8}, statuses(answers)
    session.expire_all()
    assert ledger.balance(session, ledger.budget(prog.id)) == 0
    assert sum(ledger.balances(session, "voucher:").values()) == money.BUDGET
    assert ledger.total(session) == 0
