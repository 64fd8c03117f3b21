r"""Per-round fairness option: no enterprise takes more than a set share of the *contested* time.

Formulation
-----------
An instrument is *contested* when requests of at least two enterprises are eligible for it (there
the requests compete); :math:`C` is the set of contested instruments. For an enterprise :math:`e`
let

.. math::
    m_e = \sum_{a \in A_e,\ i(a) \in C} d_{r(a)}\, x_a \qquad M = \sum_e m_e

(the minutes its placed requests hold on contested instruments, and all such minutes; buffers are
not counted). With ``Problem.max_share_bp`` :math:`= \beta` (basis points, :math:`1 \le \beta \le
10000`) every enterprise keeps to

.. math::
    10000\, m_e \le \beta\, M \qquad \forall e

i.e. :math:`m_e / M \le \beta / 10000` whenever :math:`M > 0`. The constraint is linear in the
:math:`x_a`, one row per enterprise with a request on a contested instrument, added to the CP-SAT
model of :mod:`solver.model` (and of :mod:`solver.funding` on funded problems) over the whole
problem. A schedule with no placement on contested instruments satisfies it, so :func:`trim`,
which removes placements of the enterprise with the largest share, one at a time, until no share is
above :math:`\beta`, always ends with a schedule that does (every step removes one placement); a
trimmed greedy schedule is the model's complete hint. The option may leave contested time empty rather than give it all to one enterprise: that
is its purpose. With :math:`\beta \ge 10000` or no contested instrument the option changes nothing
and the ordinary pipeline runs.

The checker (:func:`solver.checker.check`) verifies the inequality on the placements with
:func:`share_violations`, independently of the model.

Method: the greedy incumbents (value order, and first come first served), trimmed; then CP-SAT
with the share rows for the rest of the time; the heavier schedule that passes the checker wins.
This path replaces the decomposed pipeline (the share rows couple every component); like the
funded path it runs no preferred-start phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ortools.sat.python import cp_model

from .problem import Allocation, Placement, Problem, Unplaced

FULL = 10_000


def is_limited(problem: Problem) -> bool:
    """Whether the option constrains anything: a share below 100 % and a contested instrument."""
    bp = problem.max_share_bp
    return bp is not None and bp < FULL and bool(contested(problem))


def contested(problem: Problem) -> set[str]:
    """Instruments requests of two or more enterprises are eligible for."""
    by_inst: dict[str, set[str]] = {}
    for r in problem.requests:
        for i in r.eligible:
            by_inst.setdefault(i, set()).add(r.enterprise)
    return {i for i, ents in by_inst.items() if len(ents) >= 2}


def _minutes(problem: Problem, placements: Iterable, hot: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    reqs = problem.request_by_id
    for p in placements:
        rid, iid = _get(p, "request"), _get(p, "instrument")
        r = reqs.get(rid)
        if r is not None and iid in hot:
            out[r.enterprise] = out.get(r.enterprise, 0) + r.duration
    return out


def _get(p, name):  # noqa: ANN001, ANN202 - a Placement or a dict (the checker takes both)
    return p.get(name) if isinstance(p, dict) else getattr(p, name)


def share_violations(problem: Problem, placements: Iterable) -> list[str]:
    """Each enterprise whose share of the placed contested minutes is above ``max_share_bp``."""
    bp = problem.max_share_bp
    if bp is None or bp >= FULL:
        return []
    held = _minutes(problem, list(placements), contested(problem))
    total = sum(held.values())
    return [
        f"enterprise {e}: {m} of {total} contested minutes is more than {bp / 100:g} %"
        for e, m in sorted(held.items())
        if FULL * m > bp * total
    ]


def trim(problem: Problem, placements: list[Placement]) -> tuple[list[Placement], list[str]]:
    """Drop placements until every share is within the limit: each time, of the enterprise with
    the largest share, its lightest contested placement (weight, then the later start). Returns
    the placements kept and the ids of the requests dropped."""
    bp = problem.max_share_bp
    if bp is None or bp >= FULL:
        return list(placements), []
    hot = contested(problem)
    kept = list(placements)
    dropped: list[str] = []
    while True:
        held = _minutes(problem, kept, hot)
        total = sum(held.values())
        over = [e for e, m in held.items() if FULL * m > bp * total]
        if not over:
            return kept, dropped
        worst = max(over, key=lambda e: (held[e], e))
        mine = [p for p in kept if p.instrument in hot and problem.request_by_id[p.request].enterprise == worst]
        victim = min(mine, key=lambda p: (problem.request_by_id[p.request].weight, -p.start, p.request))
        kept.remove(victim)
        dropped.append(victim.request)


def add_share_rows(model: cp_model.CpModel, problem: Problem, alts: list) -> int:
    """The rows :math:`10000\\, m_e \\le \\beta M` over the model's alternatives ``(alt, x, t)``;
    how many were added."""
    bp = problem.max_share_bp
    if bp is None or bp >= FULL:
        return 0
    hot = contested(problem)
    terms: dict[str, list] = {}
    for alt, x, _ in alts:
        if alt.instrument in hot:
            terms.setdefault(alt.request.enterprise, []).append((alt.request.duration, x))
    if len(terms) < 1:
        return 0
    total = sum(d * x for ts in terms.values() for d, x in ts)
    for ts in terms.values():
        model.add(FULL * sum(d * x for d, x in ts) <= bp * total)
    return len(terms)


def explain_fair(problem: Problem, placements: list[Placement]) -> list[Unplaced]:
    """Why each request was left out: ``fair_share`` when it would still fit in the schedule
    (so the share limit, not the time, kept it out), else the ordinary reason."""
    from .explain import explain_request
    from .schedule import Schedule

    sched = Schedule(problem)
    for p in placements:
        sched.add(p)
    out = []
    for r in problem.requests:
        if r.id in sched.placed:
            continue
        if sched.earliest(r) is not None:
            out.append(Unplaced(r.id, "fair_share", f"it fits, but placing it would give enterprise {r.enterprise} "
                                f"more than {(problem.max_share_bp or 0) / 100:g} % of the contested time"))
        else:
            out.append(explain_request(problem, sched, r))
    return out


def solve_fair(problem: Problem, time_limit: float = 30.0, workers: int = 2, seed: int = 0,
               progress: Callable[[str, dict], None] | None = None,
               deterministic_time: float | None = None) -> Allocation:
    """The allocation with the share limit (module docstring)."""
    from .baselines import fcfs, value_greedy
    from .checker import check
    from .funding import FundedModel, is_funded
    from .model import ComponentModel
    from .static import Static

    say = progress or (lambda stage, info: None)
    t0 = time.perf_counter()
    weight = problem.request_by_id
    best: list[Placement] = []
    w = -1
    method = ""
    for base in (value_greedy(problem, explain=False), fcfs(problem, explain=False)):
        kept, _ = trim(problem, base.placements)
        kw = sum(weight[p.request].weight for p in kept)
        if kw > w:
            best, w, method = kept, kw, f"{base.method}_trimmed"
    say("warm_start", {"objective": w, "method": method})
    timings = {"warm_start": time.perf_counter() - t0}
    status, bound = "HEURISTIC", None
    left = time_limit - (time.perf_counter() - t0)
    if left > 0.1 and problem.requests:
        t1 = time.perf_counter()
        static = Static(problem)
        hint = {p.request: p for p in best}
        found: list[Placement] | None = None
        if is_funded(problem):
            fm = FundedModel(problem, static)
            add_share_rows(fm.model, problem, fm.base.alts)
            status, found, bound = fm.solve(hint, left * 0.9, workers, seed, deterministic_time)
        else:
            caps = {f"enterprise:{e.id}": e.voucher_budget for e in problem.enterprises if e.voucher_budget is not None}
            caps |= {f"group:{g.id}": g.voucher_budget for g in problem.groups if g.voucher_budget is not None}
            cm = ComponentModel(problem, static, problem.requests, caps)
            add_share_rows(cm.model, problem, cm.alts)
            res = cm.solve(hint, left * 0.9, workers, seed, deterministic_time)
            status, bound = res.status, (int(res.cp_bound) if res.cp_bound is not None else None)
            found = res.placements if status in ("OPTIMAL", "FEASIBLE") else None
        if found is not None and not check(problem, found):
            fw = sum(weight[p.request].weight for p in found)
            if fw >= w:
                best, w, method = found, fw, "cpsat_fair"
        timings["cp_sat"] = time.perf_counter() - t1
        say("cp_sat", {"objective": w, "status": status})
    if method != "cpsat_fair":
        status, bound = "HEURISTIC", None
    alloc = Allocation(placements=best, objective=w, upper_bound=bound, status=status, method=method, timings=timings)
    alloc.unplaced = explain_fair(problem, best)
    alloc.stats["max_share_bp"] = problem.max_share_bp
    timings["total"] = time.perf_counter() - t0
    return alloc
