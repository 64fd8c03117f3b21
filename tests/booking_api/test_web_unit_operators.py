"""The lab manager's operators (/unit/operators) and the API beside it: an existing operator is
given another instrument and taken off one (page and ``/api/v1/operators/{id}/instruments``),
working hours replaced, a new operator added, a person qualified by e-mail with an expiry and the
qualification withdrawn. Another unit's operator, instrument or qualification answers 404 (the API
refuses another unit's instrument with 422)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select

from booking_api.web.clock import web_now
from fixtures import factories
from instruments.staff import Operator, OperatorInstrument, Qualification
from tests.world import TZ

from .conftest import auth
from .test_web_unit_instruments import ZH, signed_in

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)


def runs(session, operator_id: str) -> set[str]:
    q = select(OperatorInstrument.instrument_id).where(OperatorInstrument.operator_id == operator_id)
    ids = set(session.exec(q).all())
    session.commit()
    return ids


def the_operator(session, name: str = "Operator Zhang") -> Operator:
    op = session.exec(select(Operator).where(Operator.name == name).execution_options(populate_existing=True)).one()
    session.commit()
    return op


def test_the_page_lists_the_units_operators_with_their_instruments_and_hours(client, world, session):
    signed_in(client, session, world.manager)
    client.app.dependency_overrides[web_now] = lambda: NOW
    r = client.get("/unit/operators", headers=ZH)
    assert r.status_code == 200
    assert "Operator Zhang" in r.text and "XPS" not in r.text  # the other unit's instrument is no choice
    op = the_operator(session)
    assert f'id="run-{op.id}-{world.xrd.id}" type="checkbox" name="instrument_ids" value="{world.xrd.id}" checked' in r.text
    assert "08:30–17:30" in r.text


def test_an_existing_operator_is_given_another_instrument_and_taken_off_one(client, world, session):
    csrf = signed_in(client, session, world.manager)
    op = the_operator(session)
    new = factories.instrument(session, _unit(session, world), "NMR")
    session.commit()
    r = client.post(
        f"/unit/operators/{op.id}/instruments",
        data={"csrf": csrf, "instrument_ids": [world.xrd.id, new.id]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert runs(session, op.id) == {world.xrd.id, new.id}  # given the NMR, taken off the SEM
    r = client.post(
        f"/unit/operators/{op.id}/instruments",
        data={"csrf": csrf, "instrument_ids": [world.xrd.id, world.other.id]},
        headers=ZH,
    )
    assert r.status_code == 422 and f'data-testid="error-instruments-{op.id}"' in r.text
    assert runs(session, op.id) == {world.xrd.id, new.id}


def _unit(session, world):
    from instruments.units import OwnerUnit

    return session.get(OwnerUnit, world.xrd.owner_unit_id)


def test_another_units_operator_and_qualification_answer_404(client, world, session):
    csrf = signed_in(client, session, world.other_manager)
    op = the_operator(session)
    r = client.post(f"/unit/operators/{op.id}/instruments", data={"csrf": csrf, "instrument_ids": []})
    assert r.status_code == 404
    r = client.post(f"/unit/operators/{op.id}/hours", data={"csrf": csrf, "days": ["MO"], "start": "09:00", "end": "10:00"})
    assert r.status_code == 404
    q = factories.qualify(session, world.member_a.user_id, world.xrd, date(2026, 1, 1))
    session.commit()
    r = client.post(f"/unit/operators/qualifications/{q.id}/delete", data={"csrf": csrf})
    assert r.status_code == 404
    assert runs(session, op.id) == {world.xrd.id, world.sem.id}
    assert session.get(Qualification, q.id) is not None
    page = client.get("/unit/operators", headers=ZH)
    assert "Operator Zhang" not in page.text


def test_working_hours_are_replaced_and_refused_when_they_end_before_they_start(client, world, session):
    csrf = signed_in(client, session, world.manager)
    op = the_operator(session)
    url = f"/unit/operators/{op.id}/hours"
    r = client.post(url, data={"csrf": csrf, "days": ["SA", "SU"], "start": "09:00", "end": "13:00"}, follow_redirects=False)
    assert r.status_code == 303
    assert the_operator(session).working_hours == [{"rrule": "FREQ=WEEKLY;BYDAY=SA,SU", "start": "09:00", "end": "13:00"}]
    page = client.get("/unit/operators", headers={"Accept-Language": "en"})
    assert "Saturday, Sunday 09:00–13:00" in page.text  # the shift in words, in the page's language
    assert f'id="h-{op.id}-SA" type="checkbox" name="days" value="SA" checked' in page.text  # the form starts from it
    assert f'id="h-{op.id}-MO" type="checkbox" name="days" value="MO">' in page.text
    r = client.post(url, data={"csrf": csrf, "days": ["MO"], "start": "13:00", "end": "09:00"}, headers=ZH)
    assert r.status_code == 422 and f'data-testid="error-hours-{op.id}"' in r.text
    r = client.post(url, data={"csrf": csrf, "start": "09:00", "end": "13:00"}, headers=ZH)
    assert r.status_code == 422 and "请至少选择一天" in r.text
    assert the_operator(session).working_hours[0]["rrule"] == "FREQ=WEEKLY;BYDAY=SA,SU"


def test_a_new_operator_is_added_with_hours_and_instruments(client, world, session):
    csrf = signed_in(client, session, world.manager)
    data = {"csrf": csrf, "name": "李工", "email": "li@t.cn", "days": ["MO", "WE"], "start": "08:00", "end": "12:00"}
    r = client.post("/unit/operators/new", data={**data, "instrument_ids": [world.sem.id]}, follow_redirects=False)
    assert r.status_code == 303
    op = the_operator(session, "李工")
    assert op.owner_unit_id == world.xrd.owner_unit_id and runs(session, op.id) == {world.sem.id}
    r = client.post("/unit/operators/new", data={**data, "name": ""}, headers=ZH)
    assert r.status_code == 422 and 'data-testid="error-name"' in r.text


def test_a_person_is_qualified_by_email_until_a_day_and_the_qualification_withdrawn(client, world, session):
    csrf = signed_in(client, session, world.manager)
    client.app.dependency_overrides[web_now] = lambda: NOW
    form = {"csrf": csrf, "user_email": "A@T.CN", "instrument_id": world.xrd.id, "granted_on": "2026-12-01"}
    r = client.post("/unit/operators/qualifications", data={**form, "expires_on": "2026-12-20"}, follow_redirects=False)
    assert r.status_code == 303
    q = session.exec(select(Qualification).where(Qualification.user_id == world.member_a.user_id)).one()
    session.commit()
    assert (q.instrument_id, q.granted_on, q.expires_on) == (world.xrd.id, date(2026, 12, 1), date(2026, 12, 20))
    page = client.get("/unit/operators", headers=ZH)
    assert "即将过期" in page.text  # expires within 30 days of NOW
    for bad, field in (
        ({"user_email": "nobody@t.cn"}, "user_email"),
        ({"instrument_id": world.other.id}, "instrument_id"),
        ({"expires_on": "2026-11-01"}, "expires_on"),
    ):
        r = client.post("/unit/operators/qualifications", data={**form, **bad}, headers=ZH)
        assert r.status_code == 422 and f'data-testid="error-{field}"' in r.text, field
    r = client.post(f"/unit/operators/qualifications/{q.id}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert session.exec(select(Qualification)).all() == []


def test_the_api_assigns_an_existing_operator_and_takes_it_off_again(client, world, session):
    op = the_operator(session)
    url = f"/api/v1/operators/{op.id}/instruments"
    r = client.put(url, json={"instrument_ids": [world.xrd.id]}, headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()["instrument_ids"] == [world.xrd.id]
    r = client.post(url, json={"instrument_id": world.sem.id}, headers=auth(world, "manager"))
    assert r.status_code == 200 and sorted(r.json()["instrument_ids"]) == sorted([world.xrd.id, world.sem.id])
    r = client.delete(f"{url}/{world.xrd.id}", headers=auth(world, "manager"))
    assert r.status_code == 200 and r.json()["instrument_ids"] == [world.sem.id]
    assert client.delete(f"{url}/{world.xrd.id}", headers=auth(world, "manager")).status_code == 404
    r = client.post(url, json={"instrument_id": world.other.id}, headers=auth(world, "manager"))
    assert r.status_code == 422
    assert client.put(url, json={"instrument_ids": []}, headers=auth(world, "other_manager")).status_code == 404
    assert runs(session, op.id) == {world.sem.id}
    r = client.put(
        f"/api/v1/operators/{op.id}/working-hours",
        json={"working_hours": [{"rrule": "FREQ=WEEKLY;BYDAY=SA", "start": "09:00", "end": "12:00"}]},
        headers=auth(world, "manager"),
    )
    assert r.status_code == 200 and r.json()["operator"]["working_hours"][0]["rrule"] == "FREQ=WEEKLY;BYDAY=SA"
    r = client.get(f"/api/v1/owner-units/{op.owner_unit_id}/operators?limit=1", headers=auth(world, "manager"))
    assert r.status_code == 200 and len(r.json()) == 1
