"""iCalendar feeds: who sees what, stable UIDs/SEQUENCE, secret tokens, conditional GETs, one-booking .ics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from icalendar import Calendar

from tests.booking_api.conftest import auth

API = "/api/v1"


def book(client, world, who="member_a", h=(9, 11), inst=None, **extra):
    body = {
        "instrument_id": (inst or world.xrd).id,
        "start": world.at(h[0]).isoformat(),
        "end": world.at(h[1]).isoformat(),
        "service_mode": "operator_run",
        **extra,
    }
    r = client.post(f"{API}/bookings", json=body, headers=auth(world, who))
    assert r.status_code == 201, r.text
    return r.json()


def subscribe(client, world, who, kind, scope_id, status=201):
    r = client.post(
        f"{API}/calendar/subscriptions", json={"scope_kind": kind, "scope_id": scope_id}, headers=auth(world, who)
    )
    assert r.status_code == status, r.text
    return r.json()


def feed_path(sub) -> str:
    return "/calendar/feeds/" + sub["token"] + ".ics"


def fetch(client, sub, **params):
    r = client.get(feed_path(sub), params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    return r, Calendar.from_ical(r.content)


def events(cal) -> dict[str, object]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_each_subscriber_sees_their_own_in_full_and_others_only_as_busy(client, world):
    mine = book(client, world, "member_a", (9, 11), notes="A's powders")
    theirs = book(client, world, "member_b", (14, 16), notes="B's secret alloy")

    inst_feed = subscribe(client, world, "member_a", "instrument", world.xrd.id)
    assert inst_feed["token"].startswith("lcal_") and inst_feed["url"].endswith(".ics")
    assert inst_feed["webcal_url"].startswith("webcal://")
    r, cal = fetch(client, inst_feed)
    evs = events(cal)
    assert set(evs) == {f"{mine['id']}@labshare", next(u for u in evs if u.startswith("busy-"))}
    full = evs[f"{mine['id']}@labshare"]
    assert "Ruike Materials" in str(full["SUMMARY"]) and "A's powders" in str(full["DESCRIPTION"])
    busy = next(e for u, e in evs.items() if u.startswith("busy-"))
    assert str(busy["SUMMARY"]) == "Busy" and "DESCRIPTION" not in busy and "LOCATION" not in busy
    # nothing of the other enterprise leaks anywhere in the body, not even its booking id
    for secret in ("Nawei", "secret alloy", theirs["id"], world.ent_b.id):
        assert secret not in r.text

    ent_feed = subscribe(client, world, "member_a", "enterprise", world.ent_a.id)
    assert set(events(fetch(client, ent_feed)[1])) == {f"{mine['id']}@labshare"}

    unit_feed = subscribe(client, world, "manager", "unit", world.xrd.owner_unit_id)
    r, cal = fetch(client, unit_feed)
    assert set(events(cal)) == {f"{mine['id']}@labshare", f"{theirs['id']}@labshare"}
    assert "Nawei Powders" in r.text

    op_feed = subscribe(client, world, "operator", "operator", world.operator.operator_id)
    assert set(events(fetch(client, op_feed)[1])) == {f"{mine['id']}@labshare", f"{theirs['id']}@labshare"}

    admin_feed = subscribe(client, world, "admin", "instrument", world.xrd.id)
    assert all("@labshare" in u and not u.startswith("busy-") for u in events(fetch(client, admin_feed)[1]))


def test_subscriptions_only_for_scopes_one_may_see(client, world):
    subscribe(client, world, "member_a", "enterprise", world.ent_b.id, status=404)
    subscribe(client, world, "member_a", "unit", world.xrd.owner_unit_id, status=403)
    subscribe(client, world, "other_manager", "instrument", world.xrd.id, status=403)
    subscribe(client, world, "other_manager", "operator", world.operator.operator_id, status=404)
    subscribe(client, world, "manager", "operator", world.operator.operator_id)
    subscribe(client, world, "operator", "instrument", world.other.id, status=403)
    subscribe(client, world, "operator", "instrument", world.xrd.id)
    subscribe(client, world, "manager", "instrument", "ins_nope", status=404)
    r = client.post(f"{API}/calendar/subscriptions", json={"scope_kind": "instrument", "scope_id": world.xrd.id})
    assert r.status_code == 401


def test_uid_is_stable_and_sequence_and_last_modified_change_on_move_and_cancel(client, db, world):
    from scheduler.booking.bookings import Booking

    b = book(client, world, "member_a", (9, 11))
    with db.session() as s:  # booked an hour ago (LAST-MODIFIED has whole seconds)
        row = s.get(Booking, b["id"])
        row.updated_at -= timedelta(hours=1)
        s.add(row)
        s.commit()
    sub = subscribe(client, world, "member_a", "enterprise", world.ent_a.id)
    uid = f"{b['id']}@labshare"
    ev0 = events(fetch(client, sub)[1])[uid]
    assert ev0["SEQUENCE"] == 0 and str(ev0["STATUS"]) == "TENTATIVE"
    assert ev0.decoded("DTSTART") == world.at(9)
    assert ev0["DTSTART"].params["TZID"] == "Asia/Shanghai"

    r = client.post(
        f"{API}/bookings/{b['id']}/move",
        json={"start": world.at(13, 30).isoformat(), "end": world.at(15, 30).isoformat()},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 200, r.text
    ev1 = events(fetch(client, sub)[1])[uid]
    assert ev1["SEQUENCE"] == 1 and ev1.decoded("DTSTART") == world.at(13, 30)
    assert ev1.decoded("LAST-MODIFIED") > ev0.decoded("LAST-MODIFIED")

    r = client.post(
        f"{API}/bookings/{b['id']}/cancel", json={"reason": "sample not ready"}, headers=auth(world, "member_a")
    )
    assert r.status_code == 200, r.text
    ev2 = events(fetch(client, sub)[1])[uid]
    assert str(ev2["STATUS"]) == "CANCELLED" and ev2["SEQUENCE"] == 2
    assert ev2.decoded("LAST-MODIFIED") >= ev1.decoded("LAST-MODIFIED")


def test_cancelled_bookings_stay_for_thirty_days_then_leave_the_feed(db, session, world):
    from scheduler import booking_actions as actions
    from scheduler.calendars.calendar_feeds import CalendarSubscription, FeedParams, create_subscription, render_feed

    b = actions.book(
        session,
        world.member_a,
        actions.BookingInput(world.xrd.id, world.at(9), world.at(11), "operator_run"),
    )
    actions.cancel(session, world.member_a, b.id)
    sub, _ = create_subscription(session, world.member_a, "enterprise", world.ent_a.id)
    session.commit()
    assert isinstance(sub, CalendarSubscription)
    params = FeedParams(past_days=366)
    soon = Calendar.from_ical(render_feed(session, sub, world.member_a, params, now=b.cancelled_at).body)
    assert [str(e["STATUS"]) for e in soon.walk("VEVENT")] == ["CANCELLED"]
    later = render_feed(session, sub, world.member_a, params, now=b.cancelled_at + timedelta(days=32))
    assert Calendar.from_ical(later.body).walk("VEVENT") == []


def test_revoked_rotated_and_unknown_tokens_all_answer_404(client, world):
    sub = subscribe(client, world, "member_a", "enterprise", world.ent_a.id)
    old = feed_path(sub)
    assert client.get(old).status_code == 200
    r = client.post(f"{API}/calendar/subscriptions/{sub['id']}/rotate", headers=auth(world, "member_a"))
    assert r.status_code == 200
    new = r.json()
    assert new["id"] == sub["id"] and new["token"] != sub["token"]
    assert client.get(old).status_code == 404
    assert client.get(feed_path(new)).status_code == 200

    listed = client.get(f"{API}/calendar/subscriptions", headers=auth(world, "member_a")).json()
    assert [s["id"] for s in listed] == [sub["id"]] and "token" not in listed[0]
    # someone else cannot see, rotate or revoke it
    assert (
        client.delete(f"{API}/calendar/subscriptions/{sub['id']}", headers=auth(world, "member_b")).status_code == 404
    )

    r = client.delete(f"{API}/calendar/subscriptions/{sub['id']}", headers=auth(world, "member_a"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    revoked = client.get(feed_path(new))
    unknown = client.get("/calendar/feeds/lcal_doesnotexist.ics")
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.json()["detail"] == unknown.json()["detail"]
    assert client.get(f"{API}/calendar/subscriptions", headers=auth(world, "member_a")).json() == []


def test_polling_clients_get_304_by_etag_and_by_last_modified(client, db, world):
    from scheduler.booking.bookings import Booking

    b = book(client, world, "member_a", (9, 11))
    with db.session() as s:  # booked a while ago: Last-Modified is only sent once a second old
        row = s.get(Booking, b["id"])
        row.updated_at -= timedelta(minutes=5)
        s.add(row)
        s.commit()
    sub = subscribe(client, world, "manager", "instrument", world.xrd.id)
    r1, _ = fetch(client, sub)
    etag, last_modified = r1.headers["etag"], r1.headers["last-modified"]
    assert etag.startswith('"')

    r = client.get(feed_path(sub), headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    r = client.get(feed_path(sub), headers={"If-Modified-Since": last_modified})
    assert r.status_code == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110): a stale tag gets the body
    r = client.get(feed_path(sub), headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified})
    assert r.status_code == 200
    assert client.get(feed_path(sub), headers={"If-Modified-Since": "Thu, 01 Jan 2015 00:00:00 GMT"}).status_code == 200

    other = book(client, world, "member_b", (14, 16))

    def stamp(booking_id, when):
        with db.session() as s:
            row = s.get(Booking, booking_id)
            row.updated_at = when
            s.add(row)
            s.commit()

    stamp(other["id"], datetime.now(UTC) - timedelta(minutes=2))
    r2 = client.get(feed_path(sub), headers={"If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    assert r2.headers["last-modified"] != last_modified
    assert client.get(feed_path(sub), headers={"If-Modified-Since": last_modified}).status_code == 200
    assert client.get(feed_path(sub), headers={"If-Modified-Since": r2.headers["last-modified"]}).status_code == 304

    # a change in the current second: no whole-second validator is offered, and none is trusted
    stamp(other["id"], datetime.now(UTC) + timedelta(seconds=30))
    r3 = client.get(feed_path(sub))
    assert r3.status_code == 200 and "last-modified" not in r3.headers
    future = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    assert client.get(feed_path(sub), headers={"If-Modified-Since": future}).status_code == 200


def test_feed_has_vtimezone_range_parameters_and_optional_availability(client, world):
    sub = subscribe(client, world, "manager", "instrument", world.xrd.id)
    r = client.post(
        f"{API}/instruments/{world.xrd.id}/exceptions",
        json={
            "kind": "closed",
            "start": world.at(8, 30).isoformat(),
            "end": world.at(12).isoformat(),
            "reason": "maintenance",
        },
        headers=auth(world, "manager"),
    )
    assert r.status_code in (200, 201), r.text
    _, cal = fetch(client, sub)
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert cal.walk("VEVENT") == []
    _, cal = fetch(client, sub, availability="true", future=10)
    evs = cal.walk("VEVENT")
    assert evs and all(str(e["TRANSP"]) == "TRANSPARENT" for e in evs)
    closed = [e for e in evs if str(e["SUMMARY"]).startswith("Closed")]
    assert len(closed) == 1 and "maintenance" in str(closed[0]["SUMMARY"])
    day_open = [e for e in evs if str(e["SUMMARY"]).startswith("Open") and e.decoded("DTSTART").date() == world.day]
    assert [(e.decoded("DTSTART").hour, e.decoded("DTSTART").minute) for e in day_open] == [(13, 30)]
    assert client.get(feed_path(sub), params={"future": 5000}).status_code == 422
    assert client.get(feed_path(sub), params={"past": -1}).status_code == 422


def test_single_booking_ics_and_operator_invitation(client, world):
    b = book(client, world, "member_a", (9, 11))
    r = client.get(f"{API}/bookings/{b['id']}.ics", headers=auth(world, "member_a"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert str(cal["METHOD"]) == "PUBLISH" and [str(e["UID"]) for e in cal.walk("VEVENT")] == [f"{b['id']}@labshare"]
    assert client.get(f"{API}/bookings/{b['id']}.ics", headers=auth(world, "member_b")).status_code == 404
    assert client.get(f"{API}/bookings/{b['id']}.ics").status_code == 401
    assert client.get(f"{API}/bookings/{b['id']}", headers=auth(world, "member_a")).status_code == 200

    r = client.get(f"{API}/bookings/{b['id']}/invitation.ics", headers=auth(world, "operator"))
    assert r.status_code == 200, r.text
    inv = Calendar.from_ical(r.content)
    (ev,) = inv.walk("VEVENT")
    assert str(inv["METHOD"]) == "REQUEST"
    assert ev["ORGANIZER"].params["CN"] == "Haihe University Analysis Centre"
    assert ev["ATTENDEE"].params["CN"] == "Operator Zhang" and ev["SEQUENCE"] == 0
    assert client.get(f"{API}/bookings/{b['id']}/invitation.ics", headers=auth(world, "member_a")).status_code == 403

    client.post(f"{API}/bookings/{b['id']}/cancel", json={}, headers=auth(world, "manager"))
    inv = Calendar.from_ical(
        client.get(f"{API}/bookings/{b['id']}/invitation.ics", headers=auth(world, "manager")).content
    )
    (ev,) = inv.walk("VEVENT")
    assert str(inv["METHOD"]) == "CANCEL" and str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1
