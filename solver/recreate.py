r"""Ruin and recreate: a fast local search over a complete schedule, without CP-SAT.

A step takes a random *neighbourhood*: one or two instruments :math:`N` of one resource
cluster (:func:`solver.lns.resource_clusters`) and a time range :math:`[T_0, T_1)` of 4 hours
to 2 days.  *Ruin*: the placements on :math:`N` starting in the range are removed.
*Recreate*: those requests and the unplaced requests that may use :math:`N` with
:math:`[\mathrm{release}, \mathrm{deadline})` meeting the range are inserted one by one, in
decreasing :math:`w_r / d_r \cdot u_r` (:math:`u_r` uniform in [0.7, 1.3], fresh each step),
each at its best-fitting feasible start anywhere (:meth:`solver.schedule.Schedule.best_fit`).
The step is kept when the accepted weight does not drop (steps of equal weight let the search
drift across plateaus), else undone exactly.

Every placement goes through :class:`solver.schedule.Schedule`, which enforces windows, busy
time, buffers, operators, labs and every voucher budget, so the schedule is feasible after every
step and the weight never decreases.  A step costs a few milliseconds (pure interval arithmetic),
against ~0.15 s for an exact CP-SAT sub-problem of :mod:`solver.lns`: on oversubscribed
instances the many cheap steps gain more early on, the exact ones later (measured with
``bench/allocation.py``).
"""

from __future__ import annotations

import random
import time

from .lns import resource_clusters
from .problem import Placement, Problem, Request
from .schedule import Schedule
from .static import Static

LENGTHS = (240, 480, 1440, 2880)  # minutes of a neighbourhood's time range


class RuinRecreate:
    """Improves ``placements`` (a complete, feasible schedule) step by step; ``sched`` holds
    the current schedule."""

    def __init__(self, problem: Problem, static: Static, placements: dict[str, Placement], seed: int = 0):
        self.problem = problem
        self.static = static
        self.rng = random.Random(seed)
        self.sched = Schedule(problem, static)
        for p in placements.values():
            self.sched.add(p)
        self.users: dict[str, list[Request]] = {}  # instrument -> requests that may use it
        for r in problem.requests:
            for ins in {a.instrument for a in static.alternatives(r)}:
                self.users.setdefault(ins, []).append(r)
        cluster_of = {i: n for n, c in enumerate(resource_clusters(problem, static)) for i in c}
        self.mates: dict[str, list[str]] = {}  # instrument -> the other users' instruments of its cluster
        for i in self.users:
            self.mates[i] = sorted(j for j in self.users if j != i and cluster_of.get(j) == cluster_of.get(i))
        self.instruments = sorted(self.users)
        self.objective = sum(problem.request_by_id[k].weight for k in self.sched.placed)
        self.steps = self.improved = self.gained = 0

    def neighbourhood(self) -> tuple[set[str], int, int]:
        rng = self.rng
        first = rng.choice(self.instruments)
        chosen = {first}
        if self.mates[first] and rng.random() < 0.5:
            chosen.add(rng.choice(self.mates[first]))
        lo = rng.randrange(0, self.problem.horizon_minutes)
        return chosen, lo, lo + rng.choice(LENGTHS)

    def step(self) -> int:
        """One ruin-and-recreate step; returns the weight gained (>= 0)."""
        pr, sched, rng = self.problem, self.sched, self.rng
        self.steps += 1
        if not self.instruments:  # no request can be placed anywhere
            return 0
        chosen, lo, hi = self.neighbourhood()
        old = []
        for ins in chosen:
            tl = sched.inst.get(ins)
            if tl is None:
                continue
            for _, _, rid in tl.meeting(lo - 1440, hi + 1440):
                p = sched.placed[rid]
                if lo <= p.start < hi:
                    old.append(p)
        for p in old:
            sched.remove(p.request)
        cands = {r.id: r for ins in chosen for r in self.users[ins]
                 if r.id not in sched.placed and r.release < hi and pr.deadline_of(r) > lo}
        order = sorted(cands.values(), key=lambda r: (-r.weight / max(1, r.duration) * rng.uniform(0.7, 1.3), r.id))
        added = []
        for r in order:
            p = sched.best_fit(r)
            if p is not None:
                sched.add(p)
                added.append(p)
        weight = pr.request_by_id
        delta = sum(weight[p.request].weight for p in added) - sum(weight[p.request].weight for p in old)
        if delta >= 0:
            self.objective += delta
            if delta > 0:
                self.improved += 1
                self.gained += delta
            return delta
        for p in added:
            sched.remove(p.request)
        for p in old:
            sched.add(p)
        return 0

    def run(self, deadline: float | None = None, max_steps: int | None = None,
            upper_bound: int | None = None, progress=None, every: int = 500) -> None:
        """Steps until ``deadline`` (perf_counter), ``max_steps`` steps (reproducible runs) or
        ``upper_bound`` is reached; ``progress("recreate", info)`` every ``every`` steps."""
        n = 0
        while (deadline is None or time.perf_counter() < deadline) and (max_steps is None or n < max_steps):
            if upper_bound is not None and self.objective >= upper_bound:
                break
            self.step()
            n += 1
            if progress and n % every == 0:
                progress("recreate", {"steps": self.steps, "objective": self.objective, "improved": self.improved})
