"""The lab manager's instruments (/unit/instruments): the unit's list with fees in yuan, publishing
a new instrument with its booking policy, editing one (refusals beside their fields), retiring
one; another unit's instrument answers 404, a form without its CSRF token 403. And the API's
retire endpoint beside it."""

from __future__ import annotations

import re

from booking_api.accounts import User, set_password
from instruments.actor import SYSTEM
from instruments.inventory import Instrument
from instruments.policy import BookingPolicy

from .conftest import auth
from .test_web_signin import PASSWORD, csrf_of, sign_in

ZH = {"Accept-Language": "zh-CN"}


def signed_in(client, session, actor) -> str:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    assert sign_in(client, user.email).status_code == 303
    return csrf_of(client.get("/unit/instruments", headers=ZH).text)


def form(csrf: str, **over) -> dict:
    data = {
        "csrf": csrf,
        "name": "场发射透射电镜",
        "name_en": "FE-TEM",
        "category": "TEM",
        "category_code": "0304",
        "manufacturer": "JEOL",
        "model": "JEM-F200",
        "original_value_fen": "8,500,000",
        "status": "normal",
        "sharing_mode": "external",
        "service_modes": ["operator_run", "guided"],
        "fee_hour_external_fen": "600",
        "fee_hour_internal_fen": "300.50",
        "fee_sample_external_fen": "¥150",
        "fee_sample_internal_fen": "",
        "timezone": "Asia/Shanghai",
        "slot_minutes": "30",
        "min_minutes": "60",
        "max_minutes": "240",
        "max_advance_days": "60",
        "cancel_cutoff_minutes": "1440",
        "setup_minutes": "0",
        "cleanup_minutes": "15",
        "max_future_bookings": "4",
        "no_show_grace_minutes": "30",
        "minutes_per_sample": "30",
        "lead_operator_run": "24",
        "lead_guided": "1.5",
        "auto_confirm": "1",
    }
    data.update(over)
    return data


def test_the_list_shows_the_units_instruments_with_fees_in_yuan(client, world, session):
    signed_in(client, session, world.manager)
    r = client.get("/unit/instruments", headers=ZH)
    assert r.status_code == 200
    assert "Powder XRD" in r.text and "FE-SEM" in r.text and "XPS" not in r.text
    assert "¥200.00" in r.text and "¥150.00" in r.text
    assert "正常" in r.text or "在用" in r.text or "服务中" in r.text
    assert f"/unit/instruments/{world.xrd.id}/hours" in r.text


def test_publishing_a_new_instrument_stores_fees_in_fen_and_the_policy(client, world, session):
    csrf = signed_in(client, session, world.manager)
    r = client.post("/unit/instruments/new", data=form(csrf), headers=ZH, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    session.expire_all()
    inst = session.exec(
        Instrument.__table__.select().where(Instrument.name == "场发射透射电镜")  # type: ignore[attr-defined]
    ).first()
    assert inst is not None
    assert r.headers["location"] == f"/unit/instruments/{inst.id}/hours?done=created"
    saved = session.get(Instrument, inst.id)
    assert saved.owner_unit_id == world.xrd.owner_unit_id
    assert saved.original_value_fen == 850_000_000
    assert (saved.fee_hour_external_fen, saved.fee_hour_internal_fen, saved.fee_sample_external_fen) == (
        60000,
        30050,
        15000,
    )
    assert saved.service_modes == ["operator_run", "guided"]
    policy = session.get(BookingPolicy, inst.id)
    assert (policy.min_minutes, policy.max_minutes, policy.cleanup_minutes, policy.auto_confirm) == (60, 240, 15, True)
    assert policy.lead_minutes["operator_run"] == 24 * 60 and policy.lead_minutes["guided"] == 90


def test_refusals_are_shown_beside_their_fields_and_nothing_is_saved(client, world, session):
    csrf = signed_in(client, session, world.manager)
    bad = form(csrf, name="", fee_hour_external_fen="six hundred", service_modes=[], slot_minutes="0")
    r = client.post("/unit/instruments/new", data=bad, headers=ZH)
    assert r.status_code == 422
    for field in ("name", "fee_hour_external_fen", "service_modes", "slot_minutes"):
        assert f'data-testid="error-{field}"' in r.text, field
    assert 'value="six hundred"' in r.text  # what was typed stays in the form
    # the policy's numbers must agree: the shortest booking on the slot grid, the longest not shorter
    r = client.post("/unit/instruments/new", data=form(csrf, min_minutes="45"), headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-min_minutes"' in r.text
    r = client.post("/unit/instruments/new", data=form(csrf, max_minutes="30"), headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-max_minutes"' in r.text
    r = client.post("/unit/instruments/new", data=form(csrf, timezone="Mars/Olympus"), headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-timezone"' in r.text
    assert not re.search(r"[A-Za-z]{4,} [a-z]{4,} [a-z]{4,}", _main(r.text)), "English words on the Chinese page"
    session.expire_all()
    assert session.exec(Instrument.__table__.select().where(Instrument.name == "场发射透射电镜")).first() is None  # type: ignore[attr-defined]


def _main(html: str) -> str:
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


def test_editing_saves_the_record_and_the_policy(client, world, session):
    csrf = signed_in(client, session, world.manager)
    page = client.get(f"/unit/instruments/{world.xrd.id}/edit", headers=ZH)
    assert page.status_code == 200 and 'value="Powder XRD"' in page.text and 'value="200.00"' in page.text
    r = client.post(
        f"/unit/instruments/{world.xrd.id}/edit",
        data=form(csrf, name="Powder XRD II", status="standby", fee_hour_external_fen="250"),
        headers=ZH,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/unit/instruments?done=saved"
    session.expire_all()
    inst = session.get(Instrument, world.xrd.id)
    assert (inst.name, str(inst.status), inst.fee_hour_external_fen, inst.category) == (
        "Powder XRD II",
        "standby",
        25000,
        "TEM",
    )
    assert session.get(BookingPolicy, world.xrd.id).min_minutes == 60


def test_retiring_takes_the_instrument_out_of_service(client, world, session):
    csrf = signed_in(client, session, world.manager)
    r = client.post(f"/unit/instruments/{world.sem.id}/retire", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    assert str(session.get(Instrument, world.sem.id).status) == "awaiting_scrapping"
    page = client.get("/unit/instruments?done=retired", headers=ZH)
    assert 'data-testid="note"' in page.text


def test_another_units_instrument_answers_404_and_is_left_alone(client, world, session):
    csrf = signed_in(client, session, world.manager)
    other = world.other.id
    assert client.get(f"/unit/instruments/{other}/edit", headers=ZH).status_code == 404
    assert client.get("/unit/instruments/ins_nosuch/edit", headers=ZH).status_code == 404
    assert client.post(f"/unit/instruments/{other}/edit", data=form(csrf), headers=ZH).status_code == 404
    assert client.post(f"/unit/instruments/{other}/retire", data={"csrf": csrf}).status_code == 404
    session.expire_all()
    inst = session.get(Instrument, other)
    assert inst.name == "XPS" and str(inst.status) == "normal"


def test_a_form_without_its_csrf_token_is_refused(client, world, session):
    signed_in(client, session, world.manager)
    r = client.post(f"/unit/instruments/{world.xrd.id}/retire", data={"csrf": "forged"})
    assert r.status_code == 403
    session.expire_all()
    assert str(session.get(Instrument, world.xrd.id).status) == "normal"


def test_the_api_retires_an_instrument_for_its_own_units_manager_only(client, world):
    r = client.post(f"/api/v1/instruments/{world.xrd.id}/retire", headers=auth(world, "other_manager"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/instruments/{world.xrd.id}/retire", headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()["status"] == "awaiting_scrapping"
