"""A request says how it pays, over HTTP: its funding is checked with a clear 422, a round
places it with a voucher it reserves, and the booking and the voucher name each other."""

from __future__ import annotations

from datetime import timedelta

from fixtures.voucher_presets import PRESETS
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import VoucherType
from tests.booking_api.conftest import auth

API = "/api/v1"


def programme(s, w, **rules):
    r = PRESETS["shandong_jinan"].model_copy(update=rules)
    return v.create_programme(
        s, w.admin, v.VoucherProgramme(name="2026 创新券", year=2026, total_budget_fen=10_000_000, rules=r.model_dump(mode="json"))
    )


def body(w, **kw):
    return {
        "instrument_id": w.xrd.id,
        "duration_minutes": 120,
        "earliest_start": w.at(0).isoformat(),
        "deadline": (w.at(0) + timedelta(days=1)).isoformat(),
        **kw,
    }


def test_funding_is_checked_with_a_message_a_person_can_act_on(client, db, world):
    w = world
    with db.session() as s:
        prog = programme(s, w)
        mine = v.issue_voucher(s, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
        theirs = v.issue_voucher(s, w.admin, prog.id, w.ent_b.id, "testing", 100_000)
        dead = v.issue_voucher(s, w.admin, prog.id, w.ent_a.id, "testing", 100_000)
        dead.status = v.VoucherStatus.revoked
        s.add(dead)
        narrow = programme(s, w, voucher_types=[VoucherType(code="sem", name="电镜券", categories=["SEM"])])
        sem_only = v.issue_voucher(s, w.admin, narrow.id, w.ent_a.id, "sem", 100_000)
        s.commit()
    a = auth(w, "member_a")
    cases = [
        ({"funding": "voucher"}, "needs voucher_id"),
        ({"funding": "cash", "voucher_id": mine.id}, "voucher_id goes with funding 'voucher'"),
        ({"funding": "cash", "cash_fallback": True}, "cash_fallback goes with a voucher funding"),
        ({"funding": "voucher", "voucher_id": theirs.id}, "held by your enterprise"),
        ({"funding": "voucher", "voucher_id": dead.id}, "is revoked"),
        ({"funding": "voucher", "voucher_id": sem_only.id}, "does not pay for XRD instruments"),
        ({"funding": "gold"}, ""),
    ]
    for extra, words in cases:
        r = client.post(f"{API}/requests", json=body(w, **extra), headers=a)
        assert r.status_code == 422, (extra, r.text)
        assert words in r.text, (extra, r.text)
    ok = client.post(f"{API}/requests", json=body(w, funding="voucher", voucher_id=mine.id), headers=a)
    assert ok.status_code == 201, ok.text
    assert (ok.json()["funding"], ok.json()["voucher_id"], ok.json()["cash_fallback"]) == ("voucher", mine.id, False)
    assert len(client.get(f"{API}/requests", headers=a).json()) == 1  # the refused ones left nothing behind


def test_a_round_places_a_request_with_its_voucher_and_both_name_the_booking(client, db, world):
    w = world
    with db.session() as s:
        vch = v.issue_voucher(s, w.admin, programme(s, w).id, w.ent_a.id, "testing", 100_000)
        s.commit()
    a = auth(w, "member_a")
    req = client.post(f"{API}/requests", json=body(w, funding="any_voucher"), headers=a).json()
    cash = client.post(f"{API}/requests", json=body(w), headers=a).json()
    r = client.post(f"{API}/rounds", json={"time_limit": 3, "workers": 1}, headers=auth(w, "admin"))
    assert r.status_code == 201, r.text

    placed = client.get(f"{API}/requests/{req['id']}", headers=a).json()
    assert placed["status"] == "allocated" and placed["booking_id"]
    booking = client.get(f"{API}/bookings/{placed['booking_id']}", headers=a).json()
    assert booking["request_id"] == req["id"] and booking["voucher_id"] == vch.id
    split = booking["price_split"]
    assert split["voucher_fen"] == booking["price_fen"] * 6000 // 10000 > 0
    assert split["voucher_fen"] + split["enterprise_fen"] == booking["price_fen"]
    (held,) = [x for x in client.get(f"{API}/vouchers", headers=a).json() if x["id"] == vch.id]
    assert held["status"] == "reserved" and held["booking_id"] == booking["id"]
    assert held["reserved_fen"] == split["voucher_fen"]
    assert held["balance_fen"] == held["face_value_fen"] - held["reserved_fen"]

    paid_cash = client.get(f"{API}/requests/{cash['id']}", headers=a).json()
    other = client.get(f"{API}/bookings/{paid_cash['booking_id']}", headers=a).json()
    assert other["voucher_id"] is None and other["price_split"]["voucher_fen"] == 0
