"""Editing an opening rule or a closure through the catalogue's services (``update_opening_rule``,
``update_exception``): the same checks as adding one, one audit row with the row before and after,
NotFound for another instrument's row, and a closure may overlap its own old times but never
another closure."""

from __future__ import annotations

from datetime import time

import pytest
from sqlmodel import select

from instruments import catalogue
from instruments.audit import AuditLog
from instruments.availability import AvailabilityException, ExceptionKind, OpeningRule
from instruments.errors import Forbidden, InvalidInput, NotFound


def _closure(w, lo: int, hi: int, title: str = "维护") -> AvailabilityException:  # noqa: ANN001
    return AvailabilityException(
        instrument_id=w.xrd.id, kind=ExceptionKind.closed, start=w.at(lo), end=w.at(hi), title=title, reason="换灯丝"
    )


def _rule(session, instrument_id: str) -> OpeningRule:  # noqa: ANN001
    return session.exec(select(OpeningRule).where(OpeningRule.instrument_id == instrument_id)).first()


def _audits(session, action: str, entity_id: str) -> list[AuditLog]:  # noqa: ANN001
    return list(session.exec(select(AuditLog).where(AuditLog.action == action, AuditLog.entity_id == entity_id)).all())


def test_an_edited_opening_rule_is_saved_with_one_audit_row(session, world):
    w = world
    rule = _rule(session, w.xrd.id)
    old_end = rule.end_time
    catalogue.update_opening_rule(
        session, w.manager, w.xrd, rule.id, {"end_time": time(20), "label": "晚开", "rrule": "freq=weekly;byday=mo,we"}
    )
    session.commit()
    session.expire_all()
    again = session.get(OpeningRule, rule.id)
    assert (again.end_time, again.label, again.rrule) == (time(20), "晚开", "FREQ=WEEKLY;BYDAY=MO,WE")
    [audit] = _audits(session, "opening_rule.update", rule.id)
    assert audit.before["end_time"] == old_end.isoformat() and audit.after["end_time"] == "20:00:00"
    assert audit.after["label"] == "晚开" and audit.actor_user_id == w.manager.user_id


def test_an_opening_rule_edit_is_checked_as_an_added_rule_is_and_leaves_the_row_alone(session, world):
    w = world
    rule = _rule(session, w.xrd.id)
    before = (rule.start_time, rule.end_time, rule.valid_from, rule.valid_until)
    with pytest.raises(InvalidInput) as err:
        catalogue.update_opening_rule(session, w.manager, w.xrd, rule.id, {"end_time": time(7)})
    assert err.value.field == "end_time"
    with pytest.raises(InvalidInput) as err:
        catalogue.update_opening_rule(
            session, w.manager, w.xrd, rule.id, {"valid_until": rule.valid_from.replace(year=rule.valid_from.year - 1)}
        )
    assert err.value.field == "valid_until"
    with pytest.raises(InvalidInput):
        catalogue.update_opening_rule(session, w.manager, w.xrd, rule.id, {"instrument_id": w.other.id})
    assert (rule.start_time, rule.end_time, rule.valid_from, rule.valid_until) == before
    assert not session.dirty
    assert _audits(session, "opening_rule.update", rule.id) == []


def test_another_instruments_rule_or_closure_is_not_found_and_another_units_manager_is_refused(session, world):
    w = world
    other_rule = _rule(session, w.other.id)
    with pytest.raises(NotFound):
        catalogue.update_opening_rule(session, w.manager, w.xrd, other_rule.id, {"label": "x"})
    with pytest.raises(NotFound):
        catalogue.update_opening_rule(session, w.manager, w.xrd, "rule_nonexistent", {"label": "x"})
    exc = catalogue.add_exception(
        session, w.other_manager, w.other, AvailabilityException(instrument_id=w.other.id, start=w.at(8), end=w.at(10))
    )
    session.commit()
    with pytest.raises(NotFound):
        catalogue.update_exception(session, w.manager, w.xrd, exc.id, {"title": "x"})
    with pytest.raises(Forbidden):
        catalogue.update_exception(session, w.manager, w.other, exc.id, {"title": "x"})
    session.expire_all()
    assert session.get(AvailabilityException, exc.id).title == ""


def test_an_edited_closure_is_saved_with_one_audit_row(session, world):
    w = world
    exc = catalogue.add_exception(session, w.manager, w.xrd, _closure(w, 8, 12, "维户"))
    session.commit()
    catalogue.update_exception(session, w.manager, w.xrd, exc.id, {"title": "维护", "end": w.at(13)})
    session.commit()
    session.expire_all()
    again = session.get(AvailabilityException, exc.id)
    assert (again.title, again.start, again.end, again.reason, again.source) == ("维护", w.at(8), w.at(13), "换灯丝", "manual")
    [audit] = _audits(session, "exception.update", exc.id)
    assert (audit.before["title"], audit.after["title"]) == ("维户", "维护")
    assert audit.before["end"] != audit.after["end"]


def test_an_edited_closure_may_overlap_its_own_old_times_but_not_another_closure(session, world):
    w = world
    first = catalogue.add_exception(session, w.manager, w.xrd, _closure(w, 8, 10, "一"))
    second = catalogue.add_exception(session, w.manager, w.xrd, _closure(w, 14, 16, "二"))
    session.commit()
    # moved by an hour: it overlaps where it was, which is no conflict
    catalogue.update_exception(session, w.manager, w.xrd, first.id, {"start": w.at(9), "end": w.at(11)})
    session.commit()
    with pytest.raises(InvalidInput) as err:
        catalogue.update_exception(session, w.manager, w.xrd, first.id, {"end": w.at(15)})
    assert "overlaps" in err.value.detail and second.id in err.value.detail
    with pytest.raises(InvalidInput) as err:
        catalogue.update_exception(session, w.manager, w.xrd, first.id, {"end": w.at(9)})
    assert err.value.field == "end"
    session.rollback()
    session.expire_all()
    again = session.get(AvailabilityException, first.id)
    assert (again.start, again.end) == (w.at(9), w.at(11))
    assert len(_audits(session, "exception.update", first.id)) == 1
