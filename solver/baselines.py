"""Baselines sharing the solver's Problem and checker.

* :func:`fcfs`: first come, first served — requests in ``submitted`` order (default: list
  order), each at its earliest feasible start (ties: eligible-list order).
* :func:`value_greedy`: requests by weight per hour, highest first (ties: submitted order),
  each at its earliest feasible start.

Both respect every constraint (windows, busy, buffers, operators, labs, budgets; on a funded
problem also the vouchers and caps, through :func:`solver.funding.greedy_funded`), start on the
solver grid, and explain the requests they leave out.
"""

from __future__ import annotations

import time

from .fair_share import trim
from .problem import Allocation, Placement, Problem, Request
from .schedule import Schedule
from .static import Static


def greedy_fill(problem: Problem, order: list[Request], schedule: Schedule,
                best_fit: bool = False) -> list[Placement]:
    """Place requests of ``order`` (not yet placed) at their earliest feasible start (with
    ``best_fit``: at the start that fits tightest, :meth:`Schedule.best_fit`)."""
    added = []
    for r in order:
        if r.id in schedule.placed:
            continue
        p = schedule.best_fit(r) if best_fit else schedule.earliest(r)
        if p is not None:
            schedule.add(p)
            added.append(p)
    return added


def value_order(problem: Problem) -> list[Request]:
    fcfs_order = problem.submitted_order()
    pos = {r.id: k for k, r in enumerate(fcfs_order)}
    return sorted(problem.requests, key=lambda r: (-r.weight / max(r.duration, 1), pos[r.id]))


def _run(problem: Problem, order: list[Request], method: str, static: Static | None = None,
         explain: bool = True) -> Allocation:
    from .explain import explain_unplaced
    from .funding import explain_funded, greedy_funded, is_funded

    t0 = time.perf_counter()
    book = None
    if is_funded(problem):  # each voucher-funded request with one of its vouchers, or in cash if allowed
        sched, book = greedy_funded(problem, order, static)
    else:
        sched = Schedule(problem, static)
        greedy_fill(problem, order, sched)
    placements = [sched.placed[r.id] for r in problem.requests if r.id in sched.placed]
    placements, dropped = trim(problem, placements)  # a share limit on contested time (if any)
    for rid in dropped:
        sched.remove(rid)
    obj = sum(problem.request_by_id[p.request].weight for p in placements)
    alloc = Allocation(placements=placements, objective=obj, upper_bound=None,
                       status="HEURISTIC", method=method)
    alloc.timings["solve"] = time.perf_counter() - t0
    if explain and book is not None:
        alloc.unplaced = [explain_funded(problem, sched, book, r) for r in problem.requests if r.id not in sched.placed]
    elif explain:
        alloc.unplaced = explain_unplaced(problem, sched)
    alloc.timings["total"] = time.perf_counter() - t0
    return alloc


def fcfs(problem: Problem, explain: bool = True) -> Allocation:
    return _run(problem, problem.submitted_order(), "fcfs", explain=explain)


def value_greedy(problem: Problem, explain: bool = True) -> Allocation:
    return _run(problem, value_order(problem), "greedy", explain=explain)
