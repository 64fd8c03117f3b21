"""Scoring, grading, tie-break, allocation to a budget (property), and frozen reports."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fixtures.reward_rules import PRESETS, load_presets
from scheduler.sharing import indicators as ind
from scheduler.sharing import rewards as rw
from scheduler.sharing.rewards import Claim, RewardReport, RuleDocument, allocate

from .helpers import build, t, use

NATIONAL = RuleDocument.model_validate(PRESETS["national"])


def test_university_table_scores_xrd_exactly(session, world):
    build(session, world)
    (x,) = ind.compute(session, t(2026, 1, 1), t(2027, 1, 1), "instrument", ind.Scope(instrument_ids=(world.xrd.id,)))
    total, points = rw.score(NATIONAL, x)
    assert points["sharing"] == 10  # min(10, (395/485)/0.1 × 10)
    assert points["income"] == Fraction(9_000 + Fraction(3, 2) * 152_000, 100_000_000) / Fraction(1, 5) * 15
    assert points["hours"] == 0  # 485 min: not one full 100 h step
    assert points["utilisation"] == Fraction(485, 84_000) * 30
    assert (points["external_users"], points["enterprises"], points["rating"]) == (2, 4, 8)
    assert total == 24 + points["income"] + points["utilisation"]
    assert rw.grade(NATIONAL, total) == "较差"


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100, "优秀"),
        (90, "优秀"),
        (Fraction(8999, 100), "良好"),
        (75, "良好"),
        (74, "合格"),
        (60, "合格"),
        (59, "较差"),
        (0, "较差"),
    ],
)
def test_grade_cut_offs(score, grade):
    assert rw.grade(NATIONAL, Fraction(score)) == grade


def doc(**kw) -> RuleDocument:
    base = {
        "code": "t",
        "name": "test",
        "min_value_fen": 0,
        "scoring": [
            {"key": "sharing", "indicator": "sharing_rate", "per": "1/10", "points": "10", "max_points": "10"},
            {
                "key": "hours",
                "indicator": "effective_hours",
                "per": "100",
                "points": "1",
                "max_points": "30",
                "steps": True,
            },
        ],
        "grades": PRESETS["national"]["grades"],
        "min_grade": "合格",
        "reward": {"share": "1/5", "cap_fen": 500_000_000},
    }
    return RuleDocument.model_validate({**base, **kw})


def test_scale_to_scales_scores_before_grading():
    rules = doc(scale_to="100")  # max 40 raw → ×2.5
    x = ind.Indicators("i", effective_minutes=26 * 100 * 60, external_minutes=26 * 100 * 60)  # 10 + 26 = 36 raw
    total, _ = rw.score(rules, x)
    assert total == 90 and rw.grade(rules, total) == "优秀"


def test_ties_are_broken_by_sharing_score():
    rules = doc()
    # both score 11: A = 10 (sharing capped) + 1 (100 h); B = 5 (sharing 1/20) + 6 (600 h)
    a = ind.Indicators("zz-a", owner_unit_id="u-z", effective_minutes=6_000, external_minutes=3_000)
    b = ind.Indicators("aa-b", owner_unit_id="u-a", effective_minutes=36_000, external_minutes=1_800)
    units = [ind.Indicators("u-a", name="A unit"), ind.Indicators("u-z", name="Z unit")]
    res = rw.evaluate(rules, [b, a], units, None)
    ranks = {e["id"]: (e["rank"], e["score"]) for e in res["instruments"]}
    assert ranks == {"zz-a": (1, "11"), "aa-b": (2, "11")}
    assert [u["id"] for u in res["units"]] == ["u-z", "u-a"]


def test_rewards_follow_formula_cap_and_eligibility():
    rules = doc()
    good = ind.Indicators("g", owner_unit_id="U1", effective_minutes=60 * 60 * 60, external_minutes=60 * 60 * 60)
    poor = ind.Indicators("p", owner_unit_id="U2", effective_minutes=60, external_minutes=0)
    units = [
        ind.Indicators("U1", name="rich", income_external_fen=3_000_000_007),  # 20 % = 600,000,001.4 → cap
        ind.Indicators("U2", name="poor", income_external_fen=1_000),
    ]
    rules = doc(grades=[{"name": "合格", "min_score": "30"}, {"name": "较差", "min_score": "0"}])
    res = rw.evaluate(rules, [good, poor], units, None)
    by = {u["id"]: u for u in res["units"]}
    assert by["U1"]["grade"] == "合格" and by["U1"]["reward_fen"] == 500_000_000  # capped at 5,000,000 RMB
    assert by["U2"]["grade"] == "较差" and by["U2"]["reward_fen"] == 0 and res["poor_units"] == ["U2"]
    units[0].income_external_fen = 1_234_567  # 20 % = 246,913.4 → rounded down to the fen
    assert rw.evaluate(rules, [good, poor], units, None)["units"][0]["reward_fen"] == 246_913


def test_rule_documents_are_validated():
    with pytest.raises(ValidationError, match="tie_break"):
        doc(tie_break="nope")
    with pytest.raises(ValidationError, match="highest"):
        doc(grades=[{"name": "a", "min_score": "0"}, {"name": "b", "min_score": "50"}])
    with pytest.raises(ValidationError):
        doc(scoring=[{"key": "s", "indicator": "sharing_rate", "per": "0.1.2", "max_points": "1"}])


claims_st = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.tuples(
        st.fractions(min_value=0, max_value=10**9, max_denominator=1000),
        st.one_of(st.none(), st.integers(0, 10**8)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(claims=claims_st, budget=st.integers(0, 10**10))
def test_rewards_sum_exactly_to_the_budget_within_caps(claims, budget):
    """Rewards are whole fen, never above a cap, zero for a zero claim, and sum to the budget to
    the fen unless every positive claim is capped first (then to the sum of those caps)."""
    cs = {k: Claim(w, c) for k, (w, c) in claims.items()}
    out, unallocated = allocate(cs, budget)
    positive = [c for c in cs.values() if c.weight > 0]
    reachable = budget if any(c.cap_fen is None for c in positive) else min(budget, sum(c.cap_fen for c in positive))
    assert sum(out.values()) == reachable and unallocated == budget - reachable
    for k, c in cs.items():
        assert isinstance(out[k], int) and 0 <= out[k]
        assert c.cap_fen is None or out[k] <= c.cap_fen
        if c.weight == 0:
            assert out[k] == 0


@settings(max_examples=200, deadline=None)
@given(claims=claims_st, budget=st.integers(0, 10**10))
def test_uncapped_rewards_are_proportional_to_within_a_fen(claims, budget):
    """Claims no cap binds get λ × claim, rounded by at most one fen, with one λ for all of them."""
    cs = {k: Claim(w, c) for k, (w, c) in claims.items()}
    out, _ = allocate(cs, budget)
    free = [k for k, c in cs.items() if c.weight > 0 and (c.cap_fen is None or out[k] < c.cap_fen)]
    if len(free) >= 2:
        lam_lo = max((Fraction(out[k] - 1) / cs[k].weight for k in free), default=0)
        lam_hi = min(Fraction(out[k] + 1) / cs[k].weight for k in free)
        assert lam_lo < lam_hi  # some single λ puts every uncapped share within a fen of λ × claim


def test_allocation_redistributes_what_a_cap_cuts_off():
    out, rest = allocate(
        {"a": Claim(Fraction(100), 10), "b": Claim(Fraction(50), None), "c": Claim(Fraction(50), None)}, 100
    )
    assert out == {"a": 10, "b": 45, "c": 45} and rest == 0
    out, rest = allocate({"a": Claim(Fraction(1), 3), "b": Claim(Fraction(1), 3)}, 10)
    assert out == {"a": 3, "b": 3} and rest == 4  # every claim capped: the rest stays unallocated
    out, _ = allocate(
        {"a": Claim(Fraction(1), None), "b": Claim(Fraction(1), None), "c": Claim(Fraction(1), None)}, 100
    )
    assert sorted(out.values()) == [33, 33, 34] and out["a"] == 34  # largest remainder, ties by key


def test_frozen_report_survives_later_usage_and_reruns_reproduce_it(session, world):
    build(session, world)
    load_presets(session, world.admin, ["national"])
    first = rw.run_year_end(session, world.admin, 2026, "national", budget_fen=100_000)
    session.commit()
    assert first.created and first.report.version == 1 and rw.verify(first.report)
    ids = {e["id"] for e in first.report.results["instruments"]}
    assert ids == {world.xrd.id, world.sem.id}  # other (400,000 RMB) is below the national threshold
    frozen = (first.report.digest, first.report.results, first.report.inputs)
    again = rw.run_year_end(session, world.admin, 2026, "national", budget_fen=100_000)
    assert not again.created and again.report.id == first.report.id

    use(session, world, world.xrd, t(2026, 11, 2, 9), 600, user_name="New", enterprise_id=world.ent_b.id, fee_fen=1)
    session.commit()
    later = rw.run_year_end(session, world.admin, 2026, "national", budget_fen=100_000)
    session.commit()
    assert later.created and later.report.version == 2 and later.report.digest != first.report.digest
    session.expire_all()
    stored = session.get(RewardReport, first.report.id)
    assert (stored.digest, stored.results, stored.inputs) == frozen and rw.verify(stored)
    assert rw.run_year_end(session, world.admin, 2026, "national", budget_fen=100_000).report.id == later.report.id


def test_lab_managers_see_their_unit_only(session, world):
    build(session, world)
    load_presets(session, world.admin, ["national"])
    rep = rw.run_year_end(session, world.admin, 2026, "national").report
    part = rw.part_for(rep, world.manager)
    assert [u["id"] for u in part["units"]] == [world.xrd.owner_unit_id] and part["totals"] is None
    assert rw.part_for(rep, world.other_manager)["instruments"] == []
    with pytest.raises(Exception, match="programme admins"):
        rw.part_for(rep, world.member_a)
