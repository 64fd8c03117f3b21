"""place(): only feasible slots, best first, fast path without CP-SAT."""

import random

from helpers import Enterprise, Instrument, Placement, Problem, Request, check

from bench.instances import generate
from solver import place, value_greedy


def test_place_suggestions_are_feasible_on_generated_schedule():
    pr = generate("small", True, 3)
    alloc = value_greedy(pr)
    rng = random.Random(0)
    for n in range(25):
        base = rng.choice(pr.requests)
        req = Request(f"NEW{n}", base.enterprise, base.duration, base.eligible, release=base.release,
                      deadline=base.deadline, weight=base.weight, price_per_hour=base.price_per_hour,
                      voucher_share=base.voucher_share, needs_operator=base.needs_operator,
                      preferred_start=base.preferred_start)
        sugg = place(pr, alloc.placements, req, k=5)
        assert len(sugg) <= 5
        pr.requests.append(req)
        pr.__dict__.pop("request_by_id", None)
        try:
            for p in sugg:
                assert check(pr, alloc.placements + [p]) == [], p
        finally:
            pr.requests.pop()
            pr.__dict__.pop("request_by_id", None)


def test_place_ranking():
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(480, 720)], busy=[(540, 570)])],
                 enterprises=[Enterprise("E0")], requests=[Request("X", "E0", 60, ["I0"])])
    fixed = [Placement("X", "I0", 600)]
    r = Request("N", "E0", 30, ["I0"])
    assert [p.start for p in place(pr, fixed, r, k=3)] == [480, 510, 570]
    r.preferred_start = 690
    assert [p.start for p in place(pr, fixed, r, k=3)] == [690, 660, 570]
    assert place(pr, fixed, Request("L", "E0", 120, ["I0"]), k=3) == []
