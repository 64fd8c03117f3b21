"""On tiny instances the solver's optimum equals a brute-force optimum."""

import random

import pytest
from helpers import FAST, Enterprise, Fraction, Group, Instrument, Lab, Operator, Problem, Request, brute_force, check

from solver import solve


def random_tiny(seed: int) -> Problem:
    rng = random.Random(seed)
    insts = [Instrument("I0", [(480, 660)], busy=[(540, 570)] if rng.random() < 0.5 else [],
                        setup=30 if rng.random() < 0.3 else 0),
             Instrument("I1", [(480, 600), (600, 690)], lab="L")]
    labs = [Lab("L", 1)]
    ops = [Operator("O0", [(480, 600)], ["I0", "I1"])]
    ents = [Enterprise("E0", voucher_budget=rng.choice([None, 30000, 60000]), group="G"),
            Enterprise("E1", group="G")]
    groups = [Group("G", voucher_budget=rng.choice([None, 80000]))]
    reqs = []
    for k in range(rng.randint(3, 5)):
        el = rng.choice([["I0"], ["I1"], ["I0", "I1"]])
        reqs.append(Request(f"R{k}", rng.choice(["E0", "E1"]), 30 * rng.randint(1, 4), el,
                            release=rng.choice([0, 480, 540]), deadline=rng.choice([None, 660, 700]),
                            weight=rng.randint(1, 9), price_per_hour={i: 30000 for i in el},
                            voucher_share=Fraction(1, 2), needs_operator=rng.random() < 0.3,
                            preferred_start=rng.choice([None, 540, 600])))
    return Problem(horizon_minutes=1440, slot_minutes=30, instruments=insts, requests=reqs,
                   enterprises=ents, operators=ops, groups=groups, labs=labs)


@pytest.mark.parametrize("seed", range(12))
def test_optimum_matches_brute_force(seed):
    pr = random_tiny(seed)
    best = brute_force(pr)
    a = solve(pr, **FAST)
    assert check(pr, a.placements, a.objective) == []
    assert a.objective == best
    assert a.upper_bound >= best
