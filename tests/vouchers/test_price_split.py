"""The price split over HTTP: a booking says what its voucher pays, what the enterprise pays and
what of the voucher's face value lapses; the quote says the same before the booking exists."""

from __future__ import annotations

from tests.booking_api.conftest import auth

API = "/api/v1"


def _voucher(client, w, face_fen: int, enterprise_id: str) -> str:
    admin = auth(w, "admin")
    r = client.post(
        f"{API}/voucher-programmes",
        json={"name": "P", "year": w.day.year, "total_budget_fen": 1_000_000, "preset": "shanghai"},
        headers=admin,
    )
    pid = r.json()["programme"]["id"]
    r = client.post(
        f"{API}/voucher-programmes/{pid}/vouchers",
        json={"enterprise_id": enterprise_id, "voucher_type": "testing", "face_value_fen": face_fen},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_quote_then_book_shows_the_same_split(client, world):
    w = world
    a, b = auth(w, "member_a"), auth(w, "member_b")
    code = _voucher(client, w, 50_000, w.ent_a.id)
    slot = {
        "instrument_id": w.xrd.id,
        "start": w.at(9).isoformat(),
        "end": w.at(11).isoformat(),
        "service_mode": "operator_run",
    }
    q = client.get(f"{API}/vouchers/quote", params=slot, headers=a)
    assert q.status_code == 200, q.text
    quote = q.json()
    price = quote["price_split"]["price_fen"]
    assert price == 40_000 and quote["minutes"] == 120
    assert quote["start"].endswith("+08:00")
    assert quote["price_split"]["voucher_fen"] == 20_000
    assert quote["price_split"]["enterprise_fen"] == 20_000
    assert quote["price_split"]["lapsed_fen"] == 30_000
    assert [v["code"] for v in quote["vouchers"]] == [code] and quote["vouchers"][0]["refusals"] == []
    chosen = quote["chosen_voucher_id"]
    assert chosen == quote["vouchers"][0]["voucher_id"]
    # asking by code gives the same; another enterprise's code is not theirs to see
    assert client.get(f"{API}/vouchers/quote", params={**slot, "code": code}, headers=a).json() == quote
    assert client.get(f"{API}/vouchers/quote", params={**slot, "code": code}, headers=b).status_code == 404
    nothing = client.get(f"{API}/vouchers/quote", params=slot, headers=b).json()
    assert nothing["price_split"] == {
        "price_fen": 40_000,
        "voucher_fen": 0,
        "enterprise_fen": 40_000,
        "lapsed_fen": 0,
        "vouchers": [],
    }
    assert nothing["chosen_voucher_id"] is None
    backwards = client.get(f"{API}/vouchers/quote", params={**slot, "end": slot["start"]}, headers=a)
    assert backwards.status_code == 422

    booked = client.post(f"{API}/bookings", json=slot, headers=a)
    assert booked.status_code == 201, booked.text
    bid = booked.json()["id"]
    assert booked.json()["price_split"]["voucher_fen"] == 0
    assert booked.json()["price_split"]["enterprise_fen"] == 40_000
    assert client.post(f"{API}/bookings/{bid}/voucher", json={"code": code}, headers=a).status_code == 201
    split = client.get(f"{API}/bookings/{bid}", headers=a).json()["price_split"]
    assert {k: split[k] for k in ("price_fen", "voucher_fen", "enterprise_fen", "lapsed_fen")} == {
        k: quote["price_split"][k] for k in ("price_fen", "voucher_fen", "enterprise_fen", "lapsed_fen")
    }
    (v,) = split["vouchers"]
    assert v["code"] == code and v["status"] == "reserved" and v["pays_fen"] == 20_000 and v["lapses_fen"] == 30_000
    listed = client.get(f"{API}/bookings", headers=a).json()
    assert [x["price_split"]["voucher_fen"] for x in listed if x["id"] == bid] == [20_000]
    # the voucher is now reserved: the next quote offers nothing
    assert client.get(f"{API}/vouchers/quote", params=slot, headers=a).json()["vouchers"] == []
    # cancelling releases the voucher: the booking no longer shows it paying
    cancelled = client.post(f"{API}/bookings/{bid}/cancel", json={"reason": "plans changed"}, headers=a)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["price_split"]["voucher_fen"] == 0
