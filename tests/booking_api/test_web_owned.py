"""The consoles' handler preamble as dependencies (``booking_api/web/owned.py``): a page about a
row loads it for the signed-in person, and a row that does not exist or is another unit's answers
the one not-found page (404, in the page's language), with nothing written; the role is still
checked first (403 naming the account) and the CSRF token before the row (403)."""

from __future__ import annotations

from sqlmodel import select

from fixtures import factories
from instruments.availability import OpeningRule
from instruments.units import OwnerUnit
from tests.redemption_claims import file_claim

from .test_web_consoles import _sign_in_as
from .test_web_signin import csrf_of
from .test_web_unit_instruments import ZH, signed_in

NOT_FOUND = "没有这个页面，或者它不属于您。"


def signed_in_office(client, session, actor) -> str:
    _sign_in_as(client, session, actor)
    return csrf_of(client.get("/office/enterprises", headers=ZH).text)


def test_another_units_instrument_answers_the_not_found_page(client, world, session):
    csrf = signed_in(client, session, world.manager)
    other = world.other.id  # unit 2's instrument
    for path in (f"/unit/instruments/{other}/hours", f"/unit/instruments/{other}/edit", "/unit/instruments/ins_x/hours"):
        r = client.get(path, headers=ZH)
        assert r.status_code == 404 and NOT_FOUND in r.text, path
    assert client.get(f"/unit/instruments/{world.xrd.id}/hours", headers=ZH).status_code == 200
    assert client.get(f"/unit/instruments/{other}/hours/preview.json").status_code == 404
    rules = len(session.exec(select(OpeningRule).where(OpeningRule.instrument_id == other)).all())
    session.rollback()  # SQLite: the page's write must not wait for this read
    rule = {"csrf": csrf, "days": ["MO"], "start": "08:00", "end": "12:00", "valid_from": "2026-12-07"}
    r = client.post(f"/unit/instruments/{other}/hours/rules", data=rule, headers=ZH)
    assert r.status_code == 404 and NOT_FOUND in r.text
    session.expire_all()
    assert len(session.exec(select(OpeningRule).where(OpeningRule.instrument_id == other)).all()) == rules
    session.rollback()
    r = client.post(f"/unit/instruments/{other}/retire", data={"csrf": "forged"}, headers=ZH)
    assert r.status_code == 403  # the form's token is checked before the row is looked up


def test_another_units_operator_and_claim_answer_the_not_found_page(client, world, session):
    unit2 = session.get(OwnerUnit, world.other.owner_unit_id)
    theirs = factories.operator(session, unit2, "Operator Wang", [world.other])
    session.commit()
    claim = file_claim(
        session, admin=world.admin, manager=world.other_manager, member=world.member_b,
        instrument_id=world.other.id, day=world.day,
    ).claim
    csrf = signed_in(client, session, world.manager)
    shift = {"csrf": csrf, "days": ["MO"], "start": "09:00", "end": "17:00"}
    for path in (f"/unit/operators/{theirs.id}/hours", f"/unit/operators/{theirs.id}/instruments"):
        r = client.post(path, data=shift, headers=ZH)
        assert r.status_code == 404 and NOT_FOUND in r.text, path
    r = client.get(f"/unit/vouchers/claims/{claim.id}", headers=ZH)
    assert r.status_code == 404 and NOT_FOUND in r.text
    assert client.get("/unit/vouchers/claims/clm_x", headers=ZH).status_code == 404


def test_the_office_gets_the_not_found_page_for_rows_that_do_not_exist(client, world, session):
    csrf = signed_in_office(client, session, world.admin)
    for path in (
        "/office/enterprises/ent_x",
        "/office/vouchers/vch_x",
        "/office/programmes/prg_x",
        "/office/redemption/batches/bat_x",
        "/office/year-end/reports/rpt_x",
        "/office/year-end/reports/rpt_x/report.xlsx",
    ):
        r = client.get(path, headers=ZH)
        assert r.status_code == 404 and NOT_FOUND in r.text, path
    r = client.post("/office/enterprises/ent_x/verify", data={"csrf": csrf}, headers=ZH)
    assert r.status_code == 404 and NOT_FOUND in r.text
    r = client.post("/office/redemption/items/itm_x/decision", data={"csrf": csrf, "decision": "approve"}, headers=ZH)
    assert r.status_code == 404
    r = client.get(f"/office/enterprises/{world.ent_a.id}", headers=ZH)
    assert r.status_code == 200


def test_the_role_is_checked_before_the_row(client, world, session):
    signed_in_office(client, session, world.admin)
    r = client.get(f"/unit/instruments/{world.other.id}/hours", headers=ZH)
    assert r.status_code == 403 and NOT_FOUND not in r.text
