"""Small builders shared by the solver tests (imported as a sibling module)."""

from __future__ import annotations

import itertools
import os
import sys
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from solver import Enterprise, Group, Instrument, Lab, Operator, Placement, Problem, Request, check  # noqa: E402
from solver.static import Static  # noqa: E402

FAST = dict(time_limit=5.0, workers=1, seed=1, deterministic_time=2.0)

__all__ = ["Enterprise", "Group", "Instrument", "Lab", "Operator", "Placement", "Problem", "Request",
           "Fraction", "check", "FAST", "brute_force", "tiny_problem"]


def tiny_problem(**kw) -> Problem:
    d = dict(horizon_minutes=1440, slot_minutes=30,
             instruments=[Instrument("I0", [(480, 720)])],
             enterprises=[Enterprise("E0")], requests=[])
    d.update(kw)
    return Problem(**d)


def brute_force(problem: Problem) -> int:
    """Exact optimum on the solver grid by exhaustive search with pruning."""
    st = Static(problem)
    g = st.grid
    options = []
    for r in problem.requests:
        opts = [None]
        for alt in st.alternatives(r):
            for lo, hi in alt.starts:
                s = -((-lo) // g) * g
                while s < hi:
                    opts.append(Placement(r.id, alt.instrument, s, alt.operator))
                    s += g
        options.append(opts)
    best = 0
    # order: heavier first for pruning
    order = sorted(range(len(problem.requests)), key=lambda k: -problem.requests[k].weight)
    suffix = [0] * (len(order) + 1)
    for n in range(len(order) - 1, -1, -1):
        suffix[n] = suffix[n + 1] + problem.requests[order[n]].weight

    def dfs(n, chosen, value):
        nonlocal best
        if value + suffix[n] <= best:
            return
        if n == len(order):
            best = max(best, value)
            return
        r = problem.requests[order[n]]
        for p in options[order[n]][1:]:
            cand = chosen + [p]
            if not check(problem, cand):
                dfs(n + 1, cand, value + r.weight)
        dfs(n + 1, chosen, value)

    dfs(0, [], 0)
    return best


_ = itertools
