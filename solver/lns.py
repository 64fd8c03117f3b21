r"""Large-neighbourhood search over a complete schedule, with exact sub-problems.

A *neighbourhood* is a set of instruments :math:`N` (a resource cluster: instruments joined by
the requests that may use them, their operators and binding labs, or a random subset of one
whose size adapts: one instrument fewer after a sub-problem that was not solved to optimality
in time, one more after a quick proof) and a time range :math:`[T_0, T_1)` of a few days.
Its free requests :math:`F` are the requests placed on :math:`N` with start in the range, and
at most ``max_left_out`` of the unplaced requests that could use :math:`N` in the range (the
most weight per hour first).  Every other placement stays fixed.  The sub-problem

.. math::
    \max \sum_{r \in F} w_r \sum_{a \in A_r} x_a

is the model of :mod:`solver.model` over :math:`F` with each alternative's start set narrowed
to :math:`\{s \in T_a : s \in [T_0, T_1) \text{ or } s \text{ is } r\text{'s current start},\
s \text{ free for the fixed instrument and operator bookings}\}`, the fixed lab bookings as
fixed intervals in the lab's cumulative, and each budget reduced by the fixed placements'
spend.  Any solution of it, joined with the fixed placements, is feasible for the whole
problem, and the current placements of :math:`F` are one such solution (the hint), so a step
that is kept never loses weight (a step is kept only when it gains).

Budget neighbourhoods join two one-day ranges where an enterprise (or controller group) with a
binding budget has a request left out and a request placed, so the solver can move voucher
money from one cluster to another when that gains weight.

Two sub-problems can be solved at once (CP-SAT releases the GIL): sub-problems in flight
together share no cluster, and each reserves the most its free requests could spend of every
budget, which the next one's budget leaves out; so joining both solutions keeps every budget.

*Polishing* (the second objective): the same neighbourhoods over placed requests with a
preferred start, solved lexicographically (:meth:`solver.model.ComponentModel.solve` phase 2);
a step is kept when it keeps the weight and comes closer to the preferred starts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from .decompose import UnionFind
from .model import ComponentModel
from .problem import Placement, Problem, Request
from .schedule import Schedule
from .static import Alternative, Static
from .windows import intersect

DAY = 1440


def resource_clusters(problem: Problem, static: Static) -> list[set[str]]:
    """Instruments joined by shared requests, operators and binding labs."""
    uf = UnionFind()
    for r in problem.requests:
        alts = static.alternatives(r)
        for alt in alts:
            uf.union(("i", alts[0].instrument), ("i", alt.instrument))
            if alt.operator is not None:
                uf.union(("i", alt.instrument), ("o", alt.operator))
    for ins in problem.instruments:
        if ins.lab is not None and ins.lab in problem.lab_by_id:
            uf.union(("i", ins.id), ("l", ins.lab))
    out: dict = {}
    for ins in problem.instruments:
        out.setdefault(uf.find(("i", ins.id)), set()).add(ins.id)
    return list(out.values())


class LNS:
    """Improves ``placements`` (a complete, feasible schedule) in place, step by step."""

    def __init__(self, problem: Problem, static: Static, placements: dict[str, Placement],
                 seed: int = 0, workers: int = 1, max_left_out: int = 10**9):
        self.problem = problem
        self.max_left_out = max_left_out
        self.static = static
        self.workers = workers
        self.rng = random.Random(seed)
        self.sched = Schedule(problem, static)
        for p in placements.values():
            self.sched.add(p)
        self.clusters = resource_clusters(problem, static)
        self.cluster_of = {i: n for n, c in enumerate(self.clusters) for i in c}
        # requests that could go on each cluster
        self.cands: list[list[Request]] = [[] for _ in self.clusters]
        for r in problem.requests:
            alts = static.alternatives(r)
            if alts:
                self.cands[self.cluster_of[alts[0].instrument]].append(r)
        self.objective = sum(problem.request_by_id[k].weight for k in self.sched.placed)
        self.width = [len(c) for c in self.clusters]  # instruments per neighbourhood, adapted
        self.reserved: dict[str, int] = {}  # budget the sub-problems in flight may spend
        self.polish = False  # second objective: closer to the preferred starts, weight kept
        self.closer = 0      # minutes gained on it
        self.steps = self.improved = self.gained = 0
        self.statuses: dict[str, int] = {}
        self.last: tuple[str, float] = ("EMPTY", 0.0)  # status and seconds of the last step

    @property
    def placements(self) -> dict[str, Placement]:
        return dict(self.sched.placed)

    # -- neighbourhoods ------------------------------------------------------------------------
    def free_in(self, cluster: int, lo: int, hi: int,
                instruments: set[str] | None = None) -> list[tuple[Request, int, int]]:
        """(request, lo, hi) of the free requests of a neighbourhood (optionally only those
        placed on, or able to use, ``instruments``): the placed ones and at most
        ``max_left_out`` of the others (the most weight per hour first)."""
        out, left = [], []
        for r in self.cands[cluster]:
            p = self.sched.placed.get(r.id)
            if p is not None:
                if lo <= p.start < hi and (instruments is None or p.instrument in instruments):
                    out.append((r, lo, hi))
            elif r.release < hi and self.problem.deadline_of(r) > lo and (
                    instruments is None or any(i in instruments for i in r.eligible)):
                left.append((r, lo, hi))
        if len(left) > self.max_left_out:
            left.sort(key=lambda f: (-f[0].weight / f[0].duration, f[0].id))
            left = left[:self.max_left_out]
        return out + left

    def prepare(self, free: list[tuple[Request, int, int]]) -> dict | None:
        """Take a neighbourhood's free requests off the schedule and build its sub-problem
        (None if nothing can move).  The caller solves ``ctx["model"]`` and calls :meth:`commit`."""
        pr, sched = self.problem, self.sched
        by_id: dict[str, tuple[Request, list[tuple[int, int]]]] = {}
        for r, lo, hi in free:
            by_id.setdefault(r.id, (r, []))[1].append((lo, hi))
        old = {rid: sched.placed[rid] for rid in by_id if rid in sched.placed}
        for rid, p in old.items():
            sched.remove(rid)
            by_id[rid][1].append((p.start, p.start + 1))  # it may always stay where it is
        alts: dict[str, list[Alternative]] = {}
        lab_busy: dict[str, list[tuple[int, int]]] = {}
        span = [10**18, -10**18]
        for rid, (r, ranges) in by_id.items():
            out = []
            for alt in self.static.alternatives(r):
                starts = intersect(sched.free_starts(alt, use_lab=False), ranges)
                if starts:
                    out.append(Alternative(r, alt.instrument, alt.operator, starts, alt.spend))
                    span[0] = min(span[0], starts[0][0])
                    span[1] = max(span[1], starts[-1][1] + r.duration)
            if out:
                alts[rid] = out
        if not alts:
            return None
        labs = {pr.instrument_by_id[a.instrument].lab for v in alts.values() for a in v} - {None}
        for lab in labs:
            if lab in sched.lab:
                lab_busy[lab] = [(a, b) for a, b, _ in sched.lab[lab].meeting(span[0], span[1])]
        # budgets: what the fixed placements and the sub-problems in flight leave
        caps: dict[str, int] = {}
        most: dict[str, int] = {}
        for rid, v in alts.items():
            r = pr.request_by_id[rid]
            spend = max(a.spend for a in v)
            b = pr.enterprise_budget(r.enterprise)
            g = pr.group_of(r.enterprise)
            gb = pr.group_budget(g)
            for k, budget, spent in ((f"enterprise:{r.enterprise}", b, sched.spent_e.get(r.enterprise, 0)),
                                     (f"group:{g}", gb, sched.spent_g.get(g, 0))):
                if budget is not None:
                    caps[k] = budget - spent - self.reserved.get(k, 0)
                    most[k] = most.get(k, 0) + spend
        reqs = [by_id[rid][0] for rid in alts]
        model = ComponentModel(pr, self.static, reqs, caps, alternatives=alts, lab_busy=lab_busy)
        clusters = self.clusters_of(free)
        return {"old": old, "model": model, "clusters": clusters, "dev": self.deviation(old.values()),
                "reserve": {k: max(0, min(caps[k], most[k])) for k in caps},
                "before": sum(pr.request_by_id[rid].weight for rid in old),
                "seed": self.rng.randrange(1 << 30)}

    def clusters_of(self, free: list[tuple[Request, int, int]]) -> set[int]:
        return {self.cluster_of[i] for r, _, _ in free for i in r.eligible if i in self.cluster_of}

    def deviation(self, placements) -> int:
        """Minutes between placements and their requests' preferred starts (the second objective)."""
        by_id = self.problem.request_by_id
        return sum(abs(p.start - by_id[p.request].preferred_start) for p in placements
                   if by_id[p.request].preferred_start is not None)

    def commit(self, ctx: dict, res) -> int:
        """Put the sub-problem's solution back if it gains weight (or, polishing, keeps the
        weight and comes closer to the preferred starts), else the old placements."""
        self.steps += 1
        self.statuses[res.status] = self.statuses.get(res.status, 0) + 1
        self.last = (res.status, res.wall)
        ok = res.status in ("OPTIMAL", "FEASIBLE")
        if ok and (res.objective > ctx["before"] or (
                res.objective == ctx["before"] and self.polish and self.deviation(res.placements) < ctx["dev"])):
            for p in res.placements:
                self.sched.add(p)
            gained = res.objective - ctx["before"]
            self.objective += gained
            self.gained += gained
            self.improved += 1
            self.closer += ctx["dev"] - self.deviation(res.placements) if gained == 0 else 0
            return gained
        for p in ctx["old"].values():
            self.sched.add(p)
        return 0

    def step(self, free: list[tuple[Request, int, int]], time_limit: float,
             deterministic_time: float | None = None) -> int:
        """Re-solve one neighbourhood; returns the weight gained (>= 0)."""
        self.last = ("EMPTY", 0.0)
        ctx = self.prepare(free)
        if ctx is None:
            return 0
        res = ctx["model"].solve(ctx["old"], time_limit=time_limit, workers=self.workers, seed=ctx["seed"],
                                 deterministic_time=deterministic_time,
                                 phase2_time=time_limit if self.polish else 0.0)
        return self.commit(ctx, res)

    def budget_pairs(self) -> list[list[tuple[Request, int, int]]]:
        """Neighbourhoods joining, for a binding budget with a request left out, the day
        around that request's chance and the day around one of the budget's placed requests."""
        pr, sched = self.problem, self.sched
        out = []
        left = [r for r in pr.requests if r.id not in sched.placed and self.static.alternatives(r)]
        self.rng.shuffle(left)
        holders: dict[str, list[Placement]] = {}  # enterprise:<id> / group:<id> -> its placements
        for q in sched.placed.values():
            e = pr.request_by_id[q.request].enterprise
            holders.setdefault(f"enterprise:{e}", []).append(q)
            holders.setdefault(f"group:{pr.group_of(e)}", []).append(q)
        for r in left:
            alt = self.static.alternatives(r)[0]
            blocker = sched.budget_blocker(r, alt.spend) if alt.spend else None
            mates = holders.get(blocker, []) if blocker else []
            if not mates:
                continue
            q = self.rng.choice(mates)
            c1 = self.cluster_of[alt.instrument]
            c2 = self.cluster_of[q.instrument]
            a = self.rng.randrange(r.release, max(r.release + 1, self.problem.deadline_of(r) - DAY))
            a = a // DAY * DAY
            b = q.start // DAY * DAY
            free = self.free_in(c1, a, a + DAY)
            ids = {f[0].id for f in free}
            free += [f for f in self.free_in(c2, b, b + DAY) if f[0].id not in ids]
            if r.id not in ids:
                free.append((r, max(r.release, a), a + DAY))
            out.append(free)
        return out

    def neighbourhoods(self, days: int):
        """One pass: (cluster, lo, hi) ranges of ``days`` days at a random offset over every
        cluster with requests left out, shuffled; then the budget pairs."""
        horizon = self.problem.horizon_minutes
        length = days * DAY
        todo = []
        for n in range(len(self.clusters)):
            if (any(r.id not in self.sched.placed for r in self.cands[n]) if not self.polish
                    else any(r.preferred_start is not None and r.id in self.sched.placed for r in self.cands[n])):
                off = self.rng.randrange(0, length)
                for lo in range(-off, horizon, length):
                    todo.append((n, lo, lo + length))
        self.rng.shuffle(todo)
        for n, lo, hi in todo:
            members = sorted(self.clusters[n])
            sub = None
            if self.width[n] < len(members):
                sub = set(self.rng.sample(members, self.width[n]))
            free = self.free_in(n, lo, hi, sub)
            if self.polish:
                if any(r.preferred_start is not None and r.id in self.sched.placed
                       and self.sched.placed[r.id].start != r.preferred_start for r, _, _ in free):
                    yield n, free
            elif free and any(r.id not in self.sched.placed for r, _, _ in free):
                yield n, free
        if not self.polish:
            for free in self.budget_pairs():
                yield None, free

    def _adapt(self, n: int | None, step_time: float):
        """Fewer instruments after a time-out, more after a quick proof."""
        if n is None:
            return
        status, wall = self.last
        if status == "FEASIBLE":
            self.width[n] = max(1, self.width[n] - 1)
        elif status == "OPTIMAL" and wall < step_time / 3:
            self.width[n] = min(len(self.clusters[n]), self.width[n] + 1)

    def run(self, deadline: float, days: int = 3, step_time: float = 0.15,
            progress: Callable[[str, dict], None] | None = None,
            deterministic_time: float | None = None, threads: int = 1, polish_share: float = 0.0,
            upper_bound: int | None = None) -> None:
        """Steps until ``deadline`` (perf_counter), pass after pass; the last ``polish_share`` of
        the time (or once nothing is left out) polishes the second objective: each step keeps
        the weight and minimises the distance to the preferred starts.  Reaching ``upper_bound``
        (a proven bound on the weight) ends the weight passes.  With ``threads`` > 1,
        that many sub-problems are solved at once (CP-SAT releases the GIL); sub-problems in
        flight together share no cluster and no budget, so each one's fixed part stays as it
        was built.  With ``deterministic_time`` (reproducible runs): one pass, one thread, each
        step limited to a tenth of that much of CP-SAT's deterministic time (and one polishing pass)."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        det_step = None if deterministic_time is None else max(0.05, deterministic_time / 10)
        threads = 1 if det_step is not None else max(1, threads)
        passes = 0
        max_passes = 1 + (polish_share > 0) if det_step is not None else 10**9
        polish_at = time.perf_counter() + (1 - polish_share) * max(0.0, deadline - time.perf_counter())
        pool = ThreadPoolExecutor(threads) if threads > 1 else None
        flying: dict = {}  # future -> (cluster, ctx)

        def land(done):
            for f in done:
                n, ctx = flying.pop(f)
                for k, v in ctx["reserve"].items():
                    self.reserved[k] -= v
                self.commit(ctx, f.result())
                self._adapt(n, step_time)

        try:
            while time.perf_counter() < deadline and passes < max_passes:
                if polish_share > 0 and (time.perf_counter() >= polish_at or (det_step is not None and passes)):
                    self.polish = True
                passes += 1
                closer = self.closer
                stepped = False
                for n, free in self.neighbourhoods(days):
                    left = deadline - time.perf_counter()
                    if left <= 0.02 or (not self.polish and polish_share > 0 and time.perf_counter() >= polish_at):
                        break
                    if not self.polish and upper_bound is not None and self.objective >= upper_bound:
                        break
                    stepped = True
                    # a polishing solve has two phases of up to t each: both end by the deadline
                    t = min(step_time, left / 2 if self.polish else left)
                    if pool is None:
                        self.step(free, t, det_step)
                        self._adapt(n, step_time)
                        continue
                    # wait while a sub-problem in flight shares a cluster, or all threads are busy
                    while flying:
                        clusters = self.clusters_of(free)
                        busy = [f for f, (_, c) in flying.items() if c["clusters"] & clusters]
                        if not busy and len(flying) < threads:
                            break
                        land(wait(busy or list(flying), return_when=FIRST_COMPLETED).done)
                    left = deadline - time.perf_counter()  # after the wait
                    if left <= 0.02:
                        break
                    t = min(step_time, left / 2 if self.polish else left)
                    ctx = self.prepare(free)
                    if ctx is None:
                        continue
                    for k, v in ctx["reserve"].items():
                        self.reserved[k] = self.reserved.get(k, 0) + v
                    fut = pool.submit(ctx["model"].solve, ctx["old"], t, 1, ctx["seed"],
                                      phase2_time=t if self.polish else 0.0)
                    flying[fut] = (n, ctx)
                if flying:
                    land(wait(list(flying)).done)
                if progress:
                    progress("lns", {"pass": passes, "objective": self.objective, "steps": self.steps,
                                     "improved": self.improved, "statuses": dict(self.statuses),
                                     "polish": self.polish, "closer_minutes": self.closer})
                if self.polish and self.closer == closer:
                    break  # a polishing pass found nothing: done
                proven = upper_bound is not None and self.objective >= upper_bound
                if not stepped or proven:
                    if self.polish or polish_share <= 0:
                        break
                    polish_at = time.perf_counter()  # nothing left out, or optimal: polish now
        finally:
            if flying:
                land(wait(list(flying)).done)
            if pool is not None:
                pool.shutdown()
