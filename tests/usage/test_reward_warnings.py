"""The year-end review says why a budget is not paid out: each warning from its cause, with the sums."""

from __future__ import annotations

from fractions import Fraction

from fixtures.reward_rules import PRESETS
from scheduler.sharing import indicators as ind
from scheduler.sharing import rewards
from scheduler.sharing.rewards import RuleDocument, evaluate, payout_warnings
from tests.usage.helpers import build


def _rules(**kw) -> RuleDocument:
    return RuleDocument.model_validate({**PRESETS["national"], "code": "t", "min_value_fen": 0, **kw})


def _unit(key: str, income: int, minutes: int) -> ind.Indicators:
    return ind.Indicators(key=key, name=key.upper(), income_external_fen=income)


def _inst(key: str, unit: str, minutes: int, external: int) -> ind.Indicators:
    return ind.Indicators(
        key=key,
        name=key,
        owner_unit_id=unit,
        instruments=1,
        original_value_fen=100_000_000,
        quota_minutes=84_000,
        effective_minutes=minutes,
        external_minutes=external,
        income_external_fen=external * 100,
    )


def codes(ws) -> list[str]:
    return [w.code for w in ws]


def test_no_unit_reaching_the_paying_grade_is_named_with_the_best_score():
    rules = _rules()
    res = evaluate(rules, [_inst("i1", "u1", 600, 600)], [_unit("u1", 60_000, 600)], 1_000_000)
    ws = payout_warnings(rules, res)
    assert codes(ws) == ["no_unit_eligible", "budget_not_paid", "poor_units"]
    assert ws[0].data["min_grade"] == "合格" and ws[0].data["min_score"] == "60" and ws[0].data["best_unit"] == "U1"
    assert ws[1].data == {
        "budget_fen": 1_000_000,
        "reward_fen": 0,
        "unallocated_fen": 1_000_000,
        "eligible_units": 0,
        "caps_fen": 0,
        "all_capped": False,
    }
    assert ws[2].data == {"grade": "较差", "units": ["U1"]}


def test_every_eligible_unit_at_its_cap_leaves_the_rest_of_the_budget_with_the_caps_sum():
    rules = _rules(
        grades=[{"name": "合格", "min_score": "1"}, {"name": "较差", "min_score": "0"}],
        reward={"share": "1/5", "cap_fen": 1_000},
    )
    insts = [_inst("i1", "u1", 6000, 6000), _inst("i2", "u2", 6000, 3000)]
    res = evaluate(rules, insts, [_unit("u1", 600_000, 0), _unit("u2", 300_000, 0)], 5_000)
    ws = payout_warnings(rules, res)
    assert codes(ws) == ["budget_not_paid"]
    assert ws[0].data["unallocated_fen"] == 3_000 and ws[0].data["caps_fen"] == 2_000 and ws[0].data["all_capped"]


def test_eligible_units_without_external_income_are_warned_about():
    rules = _rules(grades=[{"name": "合格", "min_score": "1"}, {"name": "较差", "min_score": "0"}])
    res = evaluate(rules, [_inst("i1", "u1", 6000, 6000)], [_unit("u1", 0, 0)], None)
    assert codes(payout_warnings(rules, res)) == ["no_income"]


def test_a_budget_paid_out_to_the_fen_raises_no_warning():
    rules = _rules(grades=[{"name": "合格", "min_score": "1"}, {"name": "较差", "min_score": "0"}])
    insts = [_inst("i1", "u1", 6000, 6000), _inst("i2", "u2", 6000, 3000)]
    res = evaluate(rules, insts, [_unit("u1", 600_000, 0), _unit("u2", 300_000, 0)], 1_000_001)
    assert payout_warnings(rules, res) == []
    assert sum(u["reward_fen"] for u in res["units"]) == 1_000_001
    assert Fraction(res["units"][0]["reward_fen"], res["units"][1]["reward_fen"]) > 1


def test_nothing_in_scope_is_warned_about_with_the_threshold():
    rules = _rules(min_value_fen=123_400)
    res = evaluate(rules, [], [], None)
    assert codes(payout_warnings(rules, res)) == ["nothing_evaluated"]


def test_a_preview_on_the_database_freezes_nothing_and_matches_the_run(session, world):
    build(session, world)
    rewards.save_rule_set(session, world.admin, {**PRESETS["national"], "code": "t", "min_value_fen": 0})
    preview = rewards.preview_year_end(session, world.admin, 2026, "t", budget_fen=500_000)
    assert session.query(rewards.RewardReport).count() == 0
    assert codes(payout_warnings(_rules(), preview["results"]))[:2] == ["no_unit_eligible", "budget_not_paid"]
    run = rewards.run_year_end(session, world.admin, 2026, "t", budget_fen=500_000, now=world.at(9))
    assert run.report.digest == rewards.digest_of(preview)
