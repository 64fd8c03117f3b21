"""An Idempotency-Key holds under concurrency: parallel duplicates get the first answer
replayed, a failed first attempt frees the key, and money-moving POSTs all honour it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from booking_api import idempotency
from booking_api.idempotency import IdempotencyRecord
from instruments.db import utcnow
from scheduler.booking.bookings import Booking
from scheduler.money import ledger
from scheduler.money.redemption import ClaimItem, RedemptionClaim
from scheduler.money.vouchers import Voucher, VoucherProgramme
from tests.booking_api.conftest import auth

from . import money
from .burst import http_burst

API = "/api/v1"


def _count(session, model) -> int:  # noqa: ANN001
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def _same_answer(answers) -> None:  # noqa: ANN001
    ok = [r for r in answers if r.status_code < 300]
    assert ok and len({r.text for r in ok}) == 1, {r.status_code for r in answers}
    late = [r for r in answers if r.status_code >= 300]
    assert all(r.status_code == 409 and "in progress" in r.json()["detail"] for r in late), [r.text for r in late]
    assert sum(1 for r in ok if r.headers.get("Idempotent-Replayed") != "true") == 1  # one acted, the rest replayed


def _booking_body(w, hh: int = 9) -> dict:  # noqa: ANN001
    return {
        "instrument_id": w.xrd.id,
        "start": w.at(hh).isoformat(),
        "end": w.at(hh + 1).isoformat(),
        "service_mode": "operator_run",
    }


def test_parallel_duplicates_of_one_booking_replay_the_first_answer(db, world, session, app):
    w = world
    headers = {**auth(w, "member_a"), "Idempotency-Key": "book-once"}
    answers = http_burst(app, lambda c, i: c.post(f"{API}/bookings", json=_booking_body(w), headers=headers))
    _same_answer(answers)
    assert _count(session, Booking) == 1


def test_parallel_duplicates_of_one_voucher_application_reserve_once(db, world, session, app):
    w = world
    prog = money.programme(session, w)
    from scheduler.money import vouchers as v

    voucher = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
    b = money.booking(session, w)
    session.commit()
    headers = {**auth(w, "member_a"), "Idempotency-Key": "apply-once"}
    answers = http_burst(
        app, lambda c, i: c.post(f"{API}/bookings/{b.id}/voucher", json={"code": voucher.code}, headers=headers)
    )
    _same_answer(answers)
    assert {r.status_code for r in answers} <= {201, 409}
    session.expire_all()
    assert ledger.balance(session, ledger.booking(b.id)) == session.get(Voucher, voucher.id).reserved_fen > 0
    assert ledger.total(session) == 0


def test_parallel_duplicates_of_one_redemption_claim_file_one_claim(db, world, session, app):
    w = world
    body = money.claim_body(session, w)
    headers = {**auth(w, "manager"), "Idempotency-Key": "claim-once"}
    answers = http_burst(app, lambda c, i: c.post(f"{API}/redemption-claims", json=body, headers=headers))
    _same_answer(answers)
    assert answers[0].json()["outcomes"][0]["outcome"] == "filed"
    assert _count(session, RedemptionClaim) == 1 and _count(session, ClaimItem) == 1


def test_a_failed_first_attempt_frees_the_key(db, world, client):
    w = world
    blocker = client.post(f"{API}/bookings", json=_booking_body(w), headers=auth(w, "member_b"))
    assert blocker.status_code == 201
    headers = {**auth(w, "member_a"), "Idempotency-Key": "retry-me"}
    first = client.post(f"{API}/bookings", json=_booking_body(w), headers=headers)
    assert first.status_code == 409  # the slot is taken
    cancel = client.post(f"{API}/bookings/{blocker.json()['id']}/cancel", headers=auth(w, "manager"))
    assert cancel.status_code == 200
    retry = client.post(f"{API}/bookings", json=_booking_body(w), headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers  # it acted this time
    again = client.post(f"{API}/bookings", json=_booking_body(w), headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()


def test_a_key_reused_for_another_request_is_refused(db, world, client):
    w = world
    headers = {**auth(w, "member_a"), "Idempotency-Key": "one-use"}
    assert client.post(f"{API}/bookings", json=_booking_body(w, 9), headers=headers).status_code == 201
    other = client.post(f"{API}/bookings", json=_booking_body(w, 14), headers=headers)
    assert other.status_code == 422 and "different request" in other.json()["detail"]


def test_a_duplicate_waits_a_bounded_time_then_hears_in_progress(db, world, client, session, monkeypatch):
    w = world
    session.add(
        IdempotencyRecord(
            user_id=w.member_a.user_id, key="slow", endpoint="POST /bookings", state=idempotency.IN_PROGRESS
        )
    )
    session.commit()
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    headers = {**auth(w, "member_a"), "Idempotency-Key": "slow"}
    r = client.post(f"{API}/bookings", json=_booking_body(w), headers=headers)
    assert r.status_code == 409 and "in progress" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"


def test_a_claim_left_by_a_crashed_process_is_taken_over(db, world, client, session):
    w = world
    session.add(
        IdempotencyRecord(
            user_id=w.member_a.user_id,
            key="orphan",
            endpoint="POST /bookings",
            state=idempotency.IN_PROGRESS,
            created_at=utcnow() - idempotency.STALE_AFTER - timedelta(minutes=1),
        )
    )
    session.commit()
    r = client.post(
        f"{API}/bookings", json=_booking_body(w), headers={**auth(w, "member_a"), "Idempotency-Key": "orphan"}
    )
    assert r.status_code == 201 and _count(session, Booking) == 1


def test_money_moving_posts_replay_with_a_key(db, world, client, session):
    """Issue, claim, transfer, revoke, programme creation, claim decision, batch, paid: a retry
    with the same key replays instead of acting twice."""
    w = world
    admin = auth(w, "admin")

    def twice(path: str, headers: dict, key: str, body: dict | None = None):  # noqa: ANN202
        h = {**headers, "Idempotency-Key": key}
        first, again = client.post(path, json=body, headers=h), client.post(path, json=body, headers=h)
        assert first.status_code < 300, first.text
        assert again.status_code == first.status_code and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        return first.json()

    rules = {**money.programme(session, w).parsed.model_dump(mode="json"), "transferable": True}
    session.commit()
    pid = twice(
        f"{API}/voucher-programmes",
        admin,
        "prog",
        {"name": "P", "year": 2026, "total_budget_fen": 1_000_000, "rules": rules},
    )["programme"]["id"]
    issue = {"enterprise_id": w.ent_a.id, "voucher_type": "testing", "face_value_fen": 50_000}
    code = twice(f"{API}/voucher-programmes/{pid}/vouchers", admin, "issue", issue)["code"]
    twice(f"{API}/vouchers/claim", auth(w, "member_a"), "claim", {"code": code})
    vid = twice(f"{API}/vouchers/transfer", admin, "transfer", {"code": code, "to_enterprise_id": w.ent_b.id})["id"]
    twice(f"{API}/vouchers/{vid}/revoke", admin, "revoke", {"reason": "test"})
    assert _count(session, Voucher) == 1
    prog = session.get(VoucherProgramme, pid)
    voucher = money.consumed_voucher(session, w, prog)
    session.commit()
    claim = twice(
        f"{API}/redemption-claims",
        auth(w, "manager"),
        "file",
        {
            "programme_id": pid,
            "owner_unit_id": w.xrd.owner_unit_id,
            "orders": [{"voucher_id": voucher.id, "proofs": money.PROOFS}],
        },
    )
    item = claim["outcomes"][0]["item"]
    twice(f"{API}/claim-items/{item}/decision", admin, "decide", {"approve": True})
    batch = twice(f"{API}/voucher-programmes/{pid}/payment-batches", admin, "batch")["id"]
    twice(f"{API}/payment-batches/{batch}/paid", admin, "paid")
    session.expire_all()
    assert ledger.total(session) == 0
    assert ledger.balance(session, ledger.paid(w.xrd.owner_unit_id)) > 0
