r"""The ``components`` stage (:mod:`solver.stages`): search component by component, on both
cores: the pattern relaxation of each component for its bound and a start, then ruin and
recreate on it.

For one component :math:`C` (:mod:`solver.decompose`) with time :math:`t_C`:

1. the pattern LP of :math:`C` (:mod:`solver.patterns`) with the *full* budgets, by column
   generation for at most ``lp_share`` of :math:`t_C`: its Lagrangian bound is a valid bound of
   the whole problem restricted to :math:`C` (any dual point gives one), so the sum over the
   components bounds the whole problem;
2. a dive on its LP (:meth:`solver.patterns.PatternLP.dived`, at most ``dive_share`` of the
   time left) within :math:`C`'s *caps*, decoded with CP-SAT sequencing the pieces
   (:func:`solver.knapsack.decode_exact`): a budget shared with other components is split
   between them (:func:`solver.decompose.decompose`: what the warm start spends on each plus a
   share of the rest, :math:`\sum_C \mathrm{cap}_{k,C} \le \beta_k`), so the components'
   schedules joined keep every budget;
3. ruin and recreate (:mod:`solver.recreate`) on :math:`C`'s instruments, from the better of that
   start and the warm start's placements, with those caps, until :math:`t_C` is used up or the
   bound is reached.

:func:`search_in_two` gives each of two child processes about half of the requests (the
biggest components first, each to the lighter half) and :math:`t_C` in proportion to
:math:`|C|` over what is left of its half.  The components' dual points joined bound the whole
problem with each shared budget counted once (:func:`solver.patterns.joined_bound`).

Invariants: each component's result is feasible within its caps (the warm start's placements
are, and ruin and recreate keeps feasibility), so the results joined with the placements of
the other components are feasible for the whole problem; the full budgets are restored after
each component (``finally``), so a budget lowered for the dive and the search never leaks.

Measured figures (bounds, starts, the budget-split experiments): ``bench/RESULTS.md``.
"""

from __future__ import annotations

import time

from .child import Child, balanced_halves, results
from .decompose import Component, budget_holder
from .patterns import PatternLP
from .problem import Placement, Problem
from .recreate import RuinRecreate
from .stages import SHARES
from .static import Static


def search_component(problem: Problem, static: Static, comp: Component, warm: dict[str, Placement],
                     end: float, lp_share: float = SHARES.component_lp, seed: int = 0,
                     dive_share: float = SHARES.dive) -> dict:
    """Steps 1-3 of the module docstring for one component, until ``end`` (perf_counter).
    ``warm``: the component's placements so far.  Returns its bound (``None`` if the LP got
    no solve in), its best placements, and what each step gave."""
    w = problem.request_by_id
    t0 = time.perf_counter()
    pl = PatternLP(problem, static, comp.requests, binding=comp.split)  # reads the full budgets
    pl.columns_of(warm)
    pl.solve(t0 + lp_share * max(0.0, end - t0))
    bound, lp_seconds = pl.bound, time.perf_counter() - t0
    joint = pl.joint_parts() or None
    full = {k: budget_holder(problem, k).voucher_budget for k in comp.split}
    try:
        for k in comp.split:
            budget_holder(problem, k).voucher_budget = comp.caps[k]
        start = pl.dived(end, dive_share, comp.caps, comp.requests, seed=seed) if pl.column_values else {}
        del pl
        warm_obj = sum(w[k].weight for k in warm)
        start_obj = sum(w[k].weight for k in start)
        instruments = {a.instrument for r in comp.requests for a in static.alternatives(r)}
        rr = RuinRecreate(problem, static, start if start_obj > warm_obj else warm, seed=seed,
                          instruments=instruments)
        rr.run(end, upper_bound=bound)
    finally:
        for k, b in full.items():
            budget_holder(problem, k).voucher_budget = b
    return {"bound": bound, "joint": joint, "placements": list(rr.best.values()), "objective": rr.best_objective,
            "warm": warm_obj, "start": start_obj, "lp_seconds": round(lp_seconds, 3), "steps": rr.steps}


def search_components(problem: Problem, static: Static, comps: list[Component], warm: dict[str, Placement],
                      deadline: float, lp_share: float = SHARES.component_lp, seed: int = 0) -> list[dict]:
    """:func:`search_component` on each of ``comps`` in turn, each with time in proportion to
    its size over what is left."""
    out = []
    for n, c in enumerate(comps):
        now = time.perf_counter()
        end = now + max(0.0, deadline - now) * len(c.requests) / sum(len(e.requests) for e in comps[n:])
        ids = {r.id for r in c.requests}
        out.append(search_component(problem, static, c, {k: p for k, p in warm.items() if k in ids},
                                    end, lp_share, seed))
    return out


def halves(comps: list[Component]) -> list[list[Component]]:
    """Two lists of about as many requests: the biggest components first, each to the lighter
    (ties in the given order: :func:`solver.decompose.decompose`'s, by first request)."""
    return balanced_halves(comps, lambda c: len(c.requests))[0]


def search_in_two(problem: Problem, static: Static, comps: list[Component], warm: dict[str, Placement],
                  deadline: float, lp_share: float = SHARES.component_lp, seed: int = 0,
                  progress=None) -> dict[int, dict]:
    """:func:`search_components` on the two :func:`halves` of ``comps``, one child process each
    (where fork is missing, all of them here, one after the other).  Returns the result of each
    component by its index in ``comps`` (none for a half whose child failed);
    ``progress("components", ...)`` about once a second while the children run."""
    index = {id(c): n for n, c in enumerate(comps)}
    parts = halves(comps)
    jobs = [Child(search_components, problem, static, part, warm, deadline, lp_share, seed + h)
            for h, part in enumerate(parts)]
    if jobs[0].proc is None:
        parts = [sorted(comps, key=lambda c: -len(c.requests))]
        found = [search_components(problem, static, parts[0], warm, deadline, lp_share, seed)]
    else:
        found = [res or [] for res in results(jobs, deadline + 5.0, progress, "components", {"components": len(comps)})]
    return {index[id(c)]: r for part, res in zip(parts, found, strict=True) for c, r in zip(part, res, strict=False)}
