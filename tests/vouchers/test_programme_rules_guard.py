"""A programme's rules are checked when it is created (a redemption window must be a real day of
every year), and one bad programme never stops the daily housekeeping for the others."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from instruments.errors import InvalidInput
from scheduler.jobs import run_voucher_housekeeping
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import ProgrammeRules
from scheduler.shared.notifications import Notification
from tests.booking_api.conftest import auth
from tests.world import TZ

API = "/api/v1"


def _rules(**redemption) -> dict:
    rules = ProgrammeRules().model_dump(mode="json")
    rules["redemption"] = {**rules["redemption"], **redemption}
    return rules


def _bad_window(opens: str = "02-30") -> dict:
    return _rules(quarterly=[{"quarter": 1, "opens": opens, "closes": "05-01"}])


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (_bad_window("02-30"), "rules.redemption.quarterly.0.opens"),
        (_bad_window("02-29"), "rules.redemption.quarterly.0.opens"),  # not a day of every year
        (_bad_window("13-01"), "rules.redemption.quarterly.0.opens"),
        (_rules(kind="monthly", monthly_days=[0, 40]), "rules.redemption.monthly_days"),
        (_rules(kind="monthly", monthly_days=[20, 10]), "rules.redemption.monthly_days"),
    ],
)
def test_an_impossible_redemption_window_is_a_422_naming_the_field(client, world, rules, field):
    body = {"name": "Bad", "year": 2026, "total_budget_fen": 1_000_000, "rules": rules}
    r = client.post(f"{API}/voucher-programmes", json=body, headers=auth(world, "admin"))
    assert r.status_code == 422, r.text
    assert [x["field"] for x in r.json()["violations"]] == [field]


def test_the_service_refuses_bad_rules_naming_the_field(session, world):
    prog = v.VoucherProgramme(name="Bad", year=2026, total_budget_fen=1_000, rules=_bad_window())
    with pytest.raises(InvalidInput) as err:
        v.create_programme(session, world.admin, prog)
    assert err.value.field == "rules.redemption.quarterly.0.opens" and "02-30" in err.value.detail


def test_one_bad_programme_does_not_stop_housekeeping_for_the_others(db, session, world, caplog):
    w = world
    issued = datetime(2026, 12, 1, 9, tzinfo=TZ)
    now = datetime(2027, 1, 5, 9, tzinfo=TZ)  # the default rules' window for Q4 is open (01-01 to 01-31)
    progs, vouchers = [], []
    for name in ("Good", "Broken"):
        prog = v.create_programme(
            session,
            w.admin,
            v.VoucherProgramme(
                name=name, year=2026, total_budget_fen=1_000_000, rules=ProgrammeRules(validity_days=1).model_dump()
            ),
        )
        progs.append(prog)
        vouchers.append(v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", 10_000, now=issued))
    session.commit()
    good, broken = progs
    with db.engine.begin() as conn:  # an old row that never went through validation
        rules = {**good.rules, "redemption": _bad_window()["redemption"]}
        conn.execute(
            text("UPDATE voucher_programme SET rules = :r WHERE id = :id"),
            {"r": json.dumps(rules), "id": broken.id},
        )
    with caplog.at_level(logging.ERROR, logger="labshare.jobs"):
        result = run_voucher_housekeeping(db.url, now=now)
    assert result["expired"] == 2 and result["window_notices"] == 1
    assert result["failed_programmes"] == [broken.id]
    assert any(broken.id in r.getMessage() and "Broken" in r.getMessage() for r in caplog.records)
    with db.session() as s:
        assert [s.get(v.Voucher, x.id).status for x in vouchers] == [v.VoucherStatus.expired] * 2
        subjects = [n.subject for n in s.exec(select(Notification)).all() if "redemption window" in n.subject]
        assert subjects == ["Good: redemption window 2026Q4 is open"]  # (voucher issued/lapsed notes aside)
    again = run_voucher_housekeeping(db.url, now=now + timedelta(hours=1))
    assert again["expired"] == 0 and again["window_notices"] == 0 and again["failed_programmes"] == [broken.id]
