"""The public red and black lists show names and standing only: no credit codes, controller
groups, contact e-mails, innovation points or internal ids."""

from __future__ import annotations

from datetime import timedelta

from fixtures import factories
from scheduler import booking_actions as actions
from scheduler.money import credit

API = "/api/v1"
PRIVATE = ("credit_code", "controller_group", "contact_email", "innovation_points", "id", "region")


def _completed(session, w, who, hh: int) -> None:
    b = actions.book(
        session,
        who,
        actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + 1), "operator_run"),
        now=w.at(8) - timedelta(days=2),
    )
    actions.confirm(session, w.manager, b.id)
    actions.check_in(session, w.manager, b.id, now=b.start)
    actions.check_out(session, w.manager, b.id, now=b.end)


def test_the_red_list_shows_names_and_standing_only(client, session, world):
    w = world
    w.ent_a.contact_email = "boss@ruike.cn"
    session.add(w.ent_a)
    for hh in (9, 14, 16):
        _completed(session, w, w.member_a, hh)
    session.commit()
    r = client.get(f"{API}/credit/red-list")
    assert r.status_code == 200, r.text
    assert r.json() == [{"name": "Ruike Materials", "standing": "good", "until": None}]
    for secret in (w.ent_a.credit_code, 'Ruike"', "boss@ruike.cn", w.ent_a.id):
        assert secret not in r.text


def test_the_black_list_shows_names_standing_and_until_only(client, session, world):
    w = world
    fraudster = factories.enterprise(session, "Shell Co", 5, group="Shady Holdings", contact_email="x@shady.cn")
    credit.confirm_fraud(session, w.admin, fraudster.id, [], "fake invoices")
    for hh in (9, 14, 16):
        b = actions.book(
            session,
            w.member_b,
            actions.BookingInput(w.xrd.id, w.at(hh), w.at(hh + 1), "operator_run"),
            now=w.at(8) - timedelta(days=2),
        )
        actions.confirm(session, w.manager, b.id)
        actions.mark_no_show(session, w.manager, b.id, now=b.start + timedelta(minutes=45))
    session.commit()
    r = client.get(f"{API}/credit/black-list")
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [(x["name"], x["standing"]) for x in rows] == [("Nawei Powders", "suspended"), ("Shell Co", "blacklisted")]
    assert (
        rows[1]["until"] is None and rows[0]["until"] == (w.at(16) + timedelta(minutes=45, days=30)).date().isoformat()
    )
    assert all(set(x) == {"name", "standing", "until"} for x in rows)
    for secret in (fraudster.credit_code, "Shady Holdings", "x@shady.cn", fraudster.id, w.ent_b.credit_code):
        assert secret not in r.text


def test_the_openapi_schema_of_the_public_lists_has_no_private_fields(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/credit/red-list", "/api/v1/credit/black-list"):
        ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"]
        props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        assert not set(props) & set(PRIVATE)
