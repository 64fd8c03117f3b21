"""The offers API: your offers, accept, decline; two enterprises accepting offers of overlapping
time at the same moment get exactly one booking, refereed by the database (both databases)."""

from __future__ import annotations

from datetime import timedelta

from instruments.db import utcnow
from scheduler.booking.freed_time import FreedTime
from scheduler.time_offers import OfferStatus, TimeOffer
from tests.booking_api.conftest import auth
from tests.races.burst import http_burst, statuses

from .helpers import live, offers_of, waiting


def _two_offers_of_one_slot(session, w):  # noqa: ANN001, ANN202
    """Offers of the XRD 10:00–12:00 to a request of each enterprise, open for an hour from now."""
    freed = FreedTime(instrument_id=w.xrd.id, start=w.at(10), end=w.at(12), cause="cancelled")
    session.add(freed)
    out = []
    for member in (w.member_a, w.member_b):
        req = waiting(session, w, member)
        offer = TimeOffer(
            freed_id=freed.id,
            instrument_id=w.xrd.id,
            request_id=req.id,
            enterprise_id=req.enterprise_id,
            start=w.at(10),
            end=w.at(11, 30) if member is w.member_a else w.at(12),  # overlapping, not equal
            span_start=w.at(10),
            span_end=w.at(12),
            expires_at=utcnow() + timedelta(hours=1),
        )
        if member is w.member_a:
            req.duration_minutes = 90
            session.add(req)
        session.add(offer)
        out.append(offer)
    session.commit()
    return out


def test_concurrent_accepts_of_overlapping_offers_book_exactly_one(db, session, w, app):
    offers = _two_offers_of_one_slot(session, w)
    who = ("member_a", "member_b")

    def post(client, i):  # noqa: ANN001, ANN202
        return client.post(f"/api/v1/offers/{offers[i % 2].id}/accept", headers=auth(w, who[i % 2]))

    answers = http_burst(app, post, n=8)
    got = statuses(answers)
    assert got[200] == 1, got
    assert set(got) == {200, 409}, [r.json() for r in answers if r.status_code not in (200, 409)]
    (booking,) = live(session)
    final = {o.id: o for o in offers_of(session)}
    (won,) = [o for o in final.values() if o.status == OfferStatus.accepted]
    (lost,) = [o for o in final.values() if o.id != won.id]
    assert won.booking_id == booking.id and booking.request_id == won.request_id
    assert lost.status == OfferStatus.superseded
    refused = [r.json() for r in answers if r.status_code == 409]
    assert all(r["detail"] for r in refused)


def test_members_see_and_answer_only_their_own_offers(db, session, w, app):
    from fastapi.testclient import TestClient

    mine, theirs = _two_offers_of_one_slot(session, w)
    client = TestClient(app)
    got = client.get("/api/v1/offers", headers=auth(w, "member_a"))
    assert got.status_code == 200 and [o["id"] for o in got.json()] == [mine.id]
    assert got.json()[0]["start"].endswith("+08:00") and got.json()[0]["instrument_name"] == "Powder XRD"
    assert client.post(f"/api/v1/offers/{theirs.id}/accept", headers=auth(w, "member_a")).status_code == 404
    declined = client.post(f"/api/v1/offers/{mine.id}/decline", headers=auth(w, "member_a"))
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    again = client.post(f"/api/v1/offers/{mine.id}/accept", headers=auth(w, "member_a"))
    assert again.status_code == 409 and "declined" in again.json()["detail"]
    admin = client.get("/api/v1/offers", headers=auth(w, "admin"), params={"limit": 1})
    assert admin.status_code == 200 and len(admin.json()) == 1


def test_an_expired_offer_refuses_with_a_clear_409(db, session, w, app):
    from fastapi.testclient import TestClient

    mine, _ = _two_offers_of_one_slot(session, w)
    mine.expires_at = utcnow() - timedelta(minutes=1)
    session.add(mine)
    session.commit()
    got = TestClient(app).post(f"/api/v1/offers/{mine.id}/accept", headers=auth(w, "member_a"))
    assert got.status_code == 409 and "expired" in got.json()["detail"]
    assert {o.id: o.status for o in offers_of(session)}[mine.id] == OfferStatus.expired
    assert live(session) == []


def test_a_request_may_ask_to_be_booked_at_once(db, session, w, app):
    from fastapi.testclient import TestClient

    body = {
        "instrument_id": w.xrd.id,
        "service_mode": "self_operated",
        "duration_minutes": 60,
        "earliest_start": w.at(9).isoformat(),
        "deadline": w.at(17).isoformat(),
        "auto_book": True,
    }
    got = TestClient(app).post("/api/v1/requests", json=body, headers=auth(w, "member_a"))
    assert got.status_code == 201 and got.json()["auto_book"] is True


def test_a_lab_manager_sets_re_offering_and_the_offer_lifetime_in_the_policy(db, session, w, app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    got = client.put(
        f"/api/v1/instruments/{w.xrd.id}/policy",
        json={"reoffer_freed_time": False, "offer_minutes": 30},
        headers=auth(w, "manager"),
    )
    assert got.status_code == 200 and (got.json()["reoffer_freed_time"], got.json()["offer_minutes"]) == (False, 30)
    assert client.get(f"/api/v1/instruments/{w.xrd.id}/policy").json()["offer_minutes"] == 30
