r"""Ruin and recreate: a fast local search over a complete schedule, without CP-SAT.

A step takes a random *neighbourhood*: one or two instruments :math:`N` of one resource
cluster (:func:`solver.lns.resource_clusters`), the first among those with an unplaced user
(refreshed every 200 steps), and a time range :math:`[T_0, T_1)` of 4 hours to 2 days.
Half of these steps (``target_rate``) are *aimed* at one left-out request :math:`r` (the most
weight per hour of ``tournament`` = 3 drawn at random): the first instrument is one of its
alternatives and the range holds one of its starts there with the whole booking; :math:`r` is
inserted first.
*Ruin*: the placements on :math:`N` starting in the range are removed.
*Recreate*: those requests and the unplaced requests that may use :math:`N` with
:math:`[\mathrm{release}, \mathrm{deadline})` meeting the range (at most
:math:`\max(10, 2 \cdot \text{removed})` of them, the most weight per hour first, with noise)
are inserted one by one, each at
its best-fitting feasible start anywhere (:meth:`solver.schedule.Schedule.best_fit`), in one of
three orders drawn at random each step: decreasing :math:`w_r / d_r \cdot u_r` (:math:`u_r`
uniform in [0.7, 1.3]; half of the steps), a random order, or by latest start with up to 4 h of
noise (a quarter each).
A *budget step* (a tenth of the steps, while some binding budget leaves a request out): for
one binding budget (an enterprise's or a controller group's), all its placements are removed;
its requests are inserted again by decreasing weight per fen of their cheapest alternative
(times :math:`u_r`), each at the cheapest alternative's best-fitting start, so the money goes
where it buys the most weight; then the unplaced users of the freed instruments on the freed
days fill the gaps, by weight per hour.

*Accept* (record-to-record travel): with :math:`W` the current weight, :math:`\Delta` the
step's change and :math:`W^*` the best weight seen, the step is kept when
:math:`W + \Delta \ge W^* - \mathrm{slack}` (default a fifth of the mean request weight, so a step may give up a
little to leave a local optimum), else undone exactly; the best schedule seen is what
:attr:`best` returns and what :meth:`run` leaves in ``sched``.

With ``instruments`` (whole resource clusters) the steps stay on those instruments and the
budget steps move only their requests: two such searches over disjoint halves, each with its
share of every budget both spend from, run side by side (the ``ruin_recreate`` stage of
:mod:`solver.pipeline`, :mod:`solver.stages`).

Every placement goes through :class:`solver.schedule.Schedule`, which enforces windows, busy
time, buffers, operators, labs and every voucher budget, so the schedule is feasible after every
step and the best weight seen never decreases.  A step is cheap (bit masks and interval
arithmetic, :mod:`solver.schedule`; no CP-SAT), so many more of them fit in a second than exact
sub-problems of :mod:`solver.lns`.  Measured figures (step costs, gains, the insertion orders
and aimed steps compared): ``bench/RESULTS.md``.
"""

from __future__ import annotations

import random
import time

from .decompose import binding_budgets
from .lns import resource_clusters
from .problem import Placement, Problem, Request
from .schedule import Schedule
from .static import Static

LENGTHS = (240, 480, 1440, 2880)  # minutes of a neighbourhood's time range


class RuinRecreate:
    """Improves ``placements`` (a complete, feasible schedule) step by step; ``sched`` holds
    the current schedule."""

    def __init__(self, problem: Problem, static: Static, placements: dict[str, Placement], seed: int = 0,
                 slack: float | None = None, budget_rate: float = 0.1, min_left_out: int = 10,
                 instruments: set[str] | None = None, target_rate: float = 0.5, tournament: int = 3):
        """``instruments``: only ruin and recreate on these (whole resource clusters; the
        budget steps then move only these instruments' requests)."""
        self.problem = problem
        self.static = static
        self.rng = random.Random(seed)
        self.budget_rate = budget_rate  # share of budget steps
        self.target_rate = target_rate  # share of the other steps aimed at one unplaced request
        self.tournament = tournament
        self.min_left_out = min_left_out  # unplaced candidates per step: at least this many
        self.sched = Schedule(problem, static)
        for p in placements.values():
            self.sched.add(p)
        self.users: dict[str, list[Request]] = {}  # instrument -> requests that may use it
        for r in problem.requests:
            for ins in {a.instrument for a in static.alternatives(r)}:
                if instruments is None or ins in instruments:
                    self.users.setdefault(ins, []).append(r)
        cluster_of = {i: n for n, c in enumerate(resource_clusters(problem, static)) for i in c}
        self.mates: dict[str, list[str]] = {}  # instrument -> the other users' instruments of its cluster
        for i in self.users:
            self.mates[i] = sorted(j for j in self.users if j != i and cluster_of.get(j) == cluster_of.get(i))
        self.instruments = sorted(self.users)
        self.open, self.short = self.instruments, []  # refreshed every 200 steps (:meth:`refresh`)
        self.left_out: list[Request] = []
        # binding budgets: key -> the requests spending from it (enterprise or group)
        self.holders = binding_budgets(problem, static, problem.requests)
        if instruments is not None:  # only the requests of these instruments
            mine = {r.id for rs in self.users.values() for r in rs}
            self.holders = {k: kept for k, v in self.holders.items() if (kept := [r for r in v if r.id in mine])}
        self.objective = sum(problem.request_by_id[k].weight for k in self.sched.placed)
        weights = [r.weight for r in problem.requests]
        self.slack = slack if slack is not None else 0.2 * sum(weights) / max(1, len(weights))
        self.best_objective = self.objective
        self.best: dict[str, Placement] = dict(self.sched.placed)
        self.steps = self.improved = 0
        self.start = self.objective

    @property
    def gained(self) -> int:
        return self.best_objective - self.start

    def refresh(self) -> None:
        """What is worth a step: the instruments with an unplaced user (all, if none has) and
        the binding budgets with a request left out."""
        placed = self.sched.placed
        self.open = [i for i in self.instruments if any(r.id not in placed for r in self.users[i])] or self.instruments
        self.short = [k for k, reqs in self.holders.items() if any(r.id not in placed for r in reqs)]
        self.left_out = sorted({r.id: r for i in self.instruments for r in self.users[i]
                                if r.id not in placed}.values(), key=lambda r: r.id)

    def neighbourhood(self) -> tuple[set[str], int, int, Request | None]:
        rng = self.rng
        if self.left_out and rng.random() < self.target_rate:
            r = max((rng.choice(self.left_out) for _ in range(self.tournament)), key=lambda r: r.weight / r.duration)
            if r.id not in self.sched.placed:
                alt = rng.choice([a for a in self.static.alternatives(r) if a.instrument in self.users])
                a, b = rng.choice(alt.starts)
                s = rng.randrange(a, b)
                length = rng.choice(LENGTHS)
                lo = s - rng.randrange(0, max(1, length - r.duration))
                chosen = {alt.instrument}
                if self.mates[alt.instrument] and rng.random() < 0.5:
                    chosen.add(rng.choice(self.mates[alt.instrument]))
                return chosen, lo, lo + length, r
        if not self.open:  # no request can be placed anywhere: nothing to ruin
            return set(), 0, 0, None
        first = rng.choice(self.open)
        chosen = {first}
        if self.mates[first] and rng.random() < 0.5:
            chosen.add(rng.choice(self.mates[first]))
        lo = rng.randrange(0, self.problem.horizon_minutes)
        return chosen, lo, lo + rng.choice(LENGTHS), None

    def by_rate(self, r: Request) -> float:
        """Sort key: decreasing weight per hour times :math:`u_r` (fresh noise each call)."""
        return -r.weight / max(1, r.duration) * self.rng.uniform(0.7, 1.3)

    def order(self, cands: list[Request]) -> list[Request]:
        rng, pr = self.rng, self.problem
        cands.sort(key=lambda r: r.id)
        k = rng.random()
        if k < 0.5:
            return sorted(cands, key=self.by_rate)
        if k < 0.75:
            rng.shuffle(cands)
            return cands
        return sorted(cands, key=lambda r: pr.deadline_of(r) - r.duration + rng.randrange(0, 240))

    def budget_step(self, key: str) -> tuple[list[Placement], list[Placement]]:
        """Ruin every placement of one binding budget, recreate (see the module docstring);
        returns (removed, added)."""
        pr, sched, rng = self.problem, self.sched, self.rng
        reqs = self.holders[key]
        old = [sched.placed[r.id] for r in reqs if r.id in sched.placed]
        for p in old:
            sched.remove(p.request)
        cheapest = {r.id: min(a.spend for a in self.static.alternatives(r)) for r in reqs}
        order = sorted(reqs, key=lambda r: (-r.weight / max(1, cheapest[r.id]) * rng.uniform(0.7, 1.3), r.id))
        added = []
        for r in order:
            p = sched.best_fit(r, cheapest=True)
            if p is not None:
                sched.add(p)
                added.append(p)
        days = {(p.instrument, p.start // 1440) for p in old}
        fill = {r.id: r for ins, day in sorted(days) for r in self.users[ins]
                if r.id not in sched.placed and r.release < (day + 1) * 1440 and pr.deadline_of(r) > day * 1440}
        for r in sorted(fill.values(), key=lambda r: (self.by_rate(r), r.id)):
            p = sched.best_fit(r)
            if p is not None:
                sched.add(p)
                added.append(p)
        return old, added

    def step(self) -> int:
        """One ruin-and-recreate step; returns the change of weight (at least ``-slack`` below
        the best weight seen)."""
        pr, sched = self.problem, self.sched
        self.steps += 1
        if not self.instruments:  # no request can be placed anywhere
            return 0
        if self.steps % 200 == 1:
            self.refresh()
        if self.short and self.rng.random() < self.budget_rate:
            return self.settle(*self.budget_step(self.rng.choice(self.short)))
        chosen, lo, hi, target = self.neighbourhood()
        old = []
        for ins in sorted(chosen):  # sorted: the same steps in every process
            tl = sched.inst.get(ins)
            if tl is None:
                continue
            for _, _, rid in tl.meeting(lo - 1440, hi + 1440):
                p = sched.placed[rid]
                if lo <= p.start < hi:
                    old.append(p)
        for p in old:
            sched.remove(p.request)
        cands = {r.id: r for ins in sorted(chosen) for r in self.users[ins]
                 if r.id not in sched.placed and r.release < hi and pr.deadline_of(r) > lo}
        if target is not None:
            cands.pop(target.id, None)
        left = list(cands.values())
        cap = max(self.min_left_out, 2 * len(old))
        if len(left) > cap:  # most weight per hour first (noisy): the others rarely get in
            left.sort(key=lambda r: (self.by_rate(r), r.id))
            left = left[:cap]
        added = []
        for r in ([target] if target is not None else []) + self.order(left):
            p = sched.best_fit(r)
            if p is not None:
                sched.add(p)
                added.append(p)
        return self.settle(old, added)

    def settle(self, old: list[Placement], added: list[Placement]) -> int:
        """Keep a step (``old`` removed, ``added`` placed) or undo it: the acceptance rule."""
        sched = self.sched
        weight = self.problem.request_by_id
        delta = sum(weight[p.request].weight for p in added) - sum(weight[p.request].weight for p in old)
        if self.objective + delta >= self.best_objective - self.slack:
            self.objective += delta
            if self.objective > self.best_objective:
                self.improved += 1
                self.best_objective = self.objective
                self.best = dict(sched.placed)
            return delta
        for p in added:
            sched.remove(p.request)
        for p in old:
            sched.add(p)
        return 0

    def run(self, deadline: float | None = None, max_steps: int | None = None,
            upper_bound: int | None = None, progress=None, every: int = 500) -> None:
        """Steps until ``deadline`` (perf_counter), ``max_steps`` steps (reproducible runs) or
        ``upper_bound`` is reached; ``progress("recreate", info)`` every ``every`` steps.  Ends
        with the best schedule seen in ``sched`` (``objective`` its weight)."""
        n = 0
        while (deadline is None or time.perf_counter() < deadline) and (max_steps is None or n < max_steps):
            if upper_bound is not None and self.best_objective >= upper_bound:
                break
            self.step()
            n += 1
            if progress and n % every == 0:
                progress("recreate", {"steps": self.steps, "objective": self.best_objective, "improved": self.improved})
        if self.objective != self.best_objective or self.sched.placed != self.best:
            self.sched = Schedule(self.problem, self.static)
            for p in self.best.values():
                self.sched.add(p)
            self.objective = self.best_objective
