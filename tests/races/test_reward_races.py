"""Year-end runs started at once: one frozen report per rule set and content, every answer a
clean 201 naming it (one says it was created, the others that it already existed)."""

from __future__ import annotations

from sqlmodel import select

from fixtures.reward_rules import PRESETS
from scheduler.sharing import rewards as rw
from tests.booking_api.conftest import auth
from tests.usage.helpers import build

from .burst import CLIENTS, http_burst, statuses


def _rule_set(session, w) -> None:  # noqa: ANN001
    build(session, w)  # usage in 2026 (fixed dates)
    rw.save_rule_set(session, w.admin, {**PRESETS["national"], "code": "race", "min_value_fen": 0})
    session.commit()


def test_parallel_runs_over_the_same_data_freeze_one_report(db, world, session, app):
    w = world
    _rule_set(session, w)
    run = {"year": 2026, "rule_set": "race", "budget_fen": 10_000_000}
    answers = http_burst(app, lambda c, i: c.post("/api/v1/rewards/runs", json=run, headers=auth(w, "admin")))
    assert statuses(answers) == {201: CLIENTS}, [r.text for r in answers if r.status_code != 201]
    bodies = [r.json() for r in answers]
    assert len({b["id"] for b in bodies}) == 1 and sum(b["created"] for b in bodies) == 1
    session.expire_all()
    reports = session.exec(select(rw.RewardReport)).all()
    assert len(reports) == 1 and rw.verify(reports[0])


def test_parallel_runs_with_two_budgets_freeze_two_versions(db, world, session, app):
    w = world
    _rule_set(session, w)

    def post(client, i):  # noqa: ANN001, ANN202
        run = {"year": 2026, "rule_set": "race", "budget_fen": (10_000_000, 20_000_000)[i % 2]}
        return client.post("/api/v1/rewards/runs", json=run, headers=auth(w, "admin"))

    answers = http_burst(app, post)
    assert statuses(answers) == {201: CLIENTS}, [r.text for r in answers if r.status_code != 201]
    session.expire_all()
    reports = session.exec(select(rw.RewardReport)).all()
    assert sorted(r.version for r in reports) == [1, 2]
    assert len({r.digest for r in reports}) == 2 and all(rw.verify(r) for r in reports)
    assert sum(r.json()["created"] for r in answers) == 2
