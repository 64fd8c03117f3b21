r"""Voucher-funded allocation: which placed request each voucher pays for.

A problem is *funded* when it has vouchers or a request with ``funding == "voucher"``
(:class:`solver.problem.Voucher`, :class:`solver.problem.Cap`).  Its rules: a voucher funds at
most one placed request, of its holder, on an instrument it pays for (``pays > 0``), starting
before it expires; a voucher-funded request without ``cash_fallback`` is placed only with a
voucher; a cash request uses none; the vouchers of a cap pay at most its limit together.

Formulation
-----------
The model of :mod:`solver.model` over all requests (alternatives :math:`a`, chosen
:math:`x_a`, start :math:`t_a` on the grid :math:`g`, enterprise / group budgets as there), plus,
for every alternative :math:`a = (r, i, o)` of a voucher-funded request and every *class*
:math:`v` of interchangeable vouchers (:func:`voucher_classes`: one holder, the same payments,
expiry and caps; :math:`n_v` vouchers) with :math:`p_{v,r,i} = \mathrm{pays}_v(r, i) > 0`, a
literal :math:`y_{a,v}`:

.. math::
    y_{a,v} \Rightarrow g\,t_a \le \epsilon_v - 1 \qquad
    \sum_v y_{a,v} = x_a \ (\text{no cash fallback}) \quad\text{or}\quad \le x_a \ (\text{fallback})

.. math::
    \sum_{a} y_{a,v} \le n_v \quad \forall v \qquad
    \sum_{v \in K} \sum_a p_{v,r(a),i(a)}\, y_{a,v} \le \lambda_K \quad \forall \text{ caps } K

where :math:`\epsilon_v` is the class's expiry.  Counting a class is exact: its vouchers
differ in nothing the constraints see, so any :math:`y` within the counts is handed out as
distinct vouchers (in list order) and one voucher funds one request.  A voucher-funded request without fallback and
with no :math:`y` is left out of the model.  The objective is the accepted weight
:math:`\sum_a w_{r(a)} x_a` plus, with ``money_tiebreak``, a lexicographically smaller term: the
voucher money used :math:`\sum p\,y` scaled below one unit of weight (so it never trades weight
for money, it only picks among schedules of equal weight the one that spends more vouchers).

**Method.**  A voucher-aware greedy (value order and first-come-first-served, each request at
its earliest start over the vouchers it could use, the one expiring first on ties); on larger
problems also the decomposed pipeline (:mod:`solver.pipeline`) on the problem without the
matching (:func:`relaxed`), its schedule then funded by an assignment of vouchers at fixed
times (:func:`fund_schedule`), the requests it cannot fund dropped and the gaps refilled by the
greedy.  The heaviest is the incumbent and the model's complete hint; CP-SAT then searches for
the rest of ``time_limit``.  The heavier
of greedy and CP-SAT that passes the independent checker (:mod:`solver.checker`) is returned
with its vouchers (``Placement.voucher``).  Requests left out are explained by
:func:`explain_funded`: the codes of :mod:`solver.explain` plus ``no_voucher``,
``voucher_taken``, ``voucher_expires`` and ``voucher_cap``.

This path replaces the decomposed pipeline of :mod:`solver.pipeline` for funded problems (the
pipeline's stages know budgets, not the matching); the preferred-start phase is not run here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ortools.sat.python import cp_model

from .baselines import value_order
from .checker import check
from .explain import explain_request
from .model import ComponentModel
from .problem import Allocation, Placement, Problem, Request, Unplaced, Voucher
from .schedule import Schedule
from .static import Alternative, Static
from .windows import first_on_grid, to_grid

INF = 10**18


def is_funded(problem: Problem) -> bool:
    return bool(problem.vouchers) or any(r.funding == "voucher" for r in problem.requests)


def voucher_classes(problem: Problem) -> list[list[Voucher]]:
    """Vouchers that are interchangeable: one holder, the same payments, expiry and caps (list
    order kept within a class).  The model counts a class instead of telling its vouchers apart,
    which removes their symmetry; the greedy tries one unused voucher per class."""
    classes: dict[tuple, list[Voucher]] = {}
    for v in problem.vouchers:
        key = (v.enterprise, v.expires,
               tuple(sorted((r, tuple(sorted(by.items()))) for r, by in v.pays.items())),
               tuple(sorted(c.id for c in problem.caps_of_voucher.get(v.id, []))))
        classes.setdefault(key, []).append(v)
    return list(classes.values())


def _pays(v: Voucher, r: Request, instrument: str) -> int:
    return v.pays.get(r.id, {}).get(instrument, 0)


def _before(starts, expires: int | None):
    if expires is None:
        return starts
    return [(a, min(b, expires)) for a, b in starts if a < min(b, expires)]


class Ledger:
    """Which voucher funds which placed request, and what each cap has paid (the greedy's and
    the explanations' book)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.used: dict[str, str] = {}   # voucher -> request
        self.paid: dict[str, int] = {}   # cap -> fen

    def cap_blocker(self, v: Voucher, amount: int) -> str | None:
        for c in self.problem.caps_of_voucher.get(v.id, []):
            if self.paid.get(c.id, 0) + amount > c.limit:
                return c.id
        return None

    def take(self, v: Voucher, r: Request, instrument: str) -> None:
        self.used[v.id] = r.id
        for c in self.problem.caps_of_voucher.get(v.id, []):
            self.paid[c.id] = self.paid.get(c.id, 0) + _pays(v, r, instrument)


def _options(sched: Schedule, r: Request) -> list[tuple[Alternative, list]]:
    """The alternatives of ``r`` within the budgets, each with its free starts in the schedule
    as it is (what :func:`_earliest` reads; the same for every voucher tried)."""
    return [(alt, sched.free_starts(alt)) for alt in sched.static.alternatives(r)
            if not sched.budget_blocker(r, alt.spend)]


def _earliest(sched: Schedule, r: Request, v: Voucher | None, book: Ledger,
              options: list[tuple[Alternative, list]] | None = None) -> Placement | None:
    """Earliest grid start of ``r`` in the schedule, funded by ``v`` (or by no voucher);
    ``options``: :func:`_options` of ``r`` in this schedule, when the caller has them."""
    g = sched.static.grid
    best = None
    for alt, starts in (options if options is not None else _options(sched, r)):
        if v is not None:
            amount = _pays(v, r, alt.instrument)
            if amount <= 0 or book.cap_blocker(v, amount) is not None:
                continue
        s = first_on_grid(_before(starts, v.expires if v else None), g)
        if s is not None and (best is None or s < best.start):
            best = Placement(r.id, alt.instrument, s, alt.operator, v.id if v else None)
    return best


def greedy_funded(problem: Problem, order: list[Request], static: Static | None = None,
                  placed: list[Placement] | None = None) -> tuple[Schedule, Ledger]:
    """Each request of ``order`` (not in ``placed``, a funded schedule to start from) at its
    earliest start: over its unused vouchers (earliest start, then the voucher expiring first),
    else in cash when it may pay so."""
    sched, book = _book_of(problem, placed or [], static or Static(problem))
    class_of = {v.id: n for n, members in enumerate(voucher_classes(problem)) for v in members}
    for r in order:
        if r.id in sched.placed:
            continue
        best, key = None, None
        options = None  # computed once per request: the schedule does not change while it tries vouchers
        if r.funding == "voucher":
            tried = set()
            for v in problem.vouchers_of_request.get(r.id, []):
                if v.id in book.used or class_of[v.id] in tried:
                    continue
                tried.add(class_of[v.id])
                if options is None:
                    options = _options(sched, r)
                p = _earliest(sched, r, v, book, options)
                if p is not None:
                    k = (p.start, v.expires if v.expires is not None else INF)
                    if key is None or k < key:
                        best, key = p, k
        if best is None and (r.funding != "voucher" or r.cash_fallback):
            best = _earliest(sched, r, None, book, options)
        if best is not None:
            sched.add(best)
            if best.voucher is not None:
                book.take(problem.voucher_by_id[best.voucher], r, best.instrument)
    return sched, book


class FundedModel:
    """The CP-SAT model of the module docstring (over the whole problem)."""

    def __init__(self, problem: Problem, static: Static, money_tiebreak: bool = True):
        self.problem = problem
        self.static = static
        requests = [r for r in problem.requests
                    if r.funding != "voucher" or r.cash_fallback or problem.vouchers_of_request.get(r.id)]
        caps = {}
        for e in problem.enterprises:
            if e.voucher_budget is not None:
                caps[f"enterprise:{e.id}"] = e.voucher_budget
        for grp in problem.groups:
            if grp.voucher_budget is not None:
                caps[f"group:{grp.id}"] = grp.voucher_budget
        self.base = ComponentModel(problem, static, requests, caps)
        m = self.model = self.base.model
        g = static.grid
        self.classes = voucher_classes(problem)
        class_of = {v.id: n for n, members in enumerate(self.classes) for v in members}
        self.uses: list[tuple[Alternative, int, cp_model.IntVar, int]] = []  # (alt, class, y, fen)
        per_class: dict[int, list] = {}
        per_cap: dict[str, list] = {}
        for alt, x, t in self.base.alts:
            r = alt.request
            if r.funding != "voucher":
                continue
            ys = []
            seen = set()
            for v in problem.vouchers_of_request.get(r.id, []):
                c = class_of[v.id]
                amount = _pays(v, r, alt.instrument)
                if c in seen or amount <= 0:
                    continue
                seen.add(c)
                if v.expires is not None and to_grid(alt.starts, g)[0][0] * g > v.expires - 1:
                    continue  # even its earliest start is too late
                y = m.new_bool_var(f"y_{r.id}_{c}")
                if v.expires is not None:
                    m.add(g * t <= v.expires - 1).only_enforce_if(y)
                ys.append(y)
                self.uses.append((alt, c, y, amount))
                per_class.setdefault(c, []).append(y)
                for cap in problem.caps_of_voucher.get(v.id, []):
                    per_cap.setdefault(cap.id, []).append((amount, y))
            if not ys:
                if not r.cash_fallback:
                    m.add(x == 0)
            elif r.cash_fallback:
                m.add(sum(ys) <= x)
            else:
                m.add(sum(ys) == x)
        for c, ys in per_class.items():
            if len(ys) > len(self.classes[c]):
                m.add(sum(ys) <= len(self.classes[c]))
        limits = {c.id: c.limit for c in problem.caps}
        for cid, terms in per_cap.items():
            if sum(a for a, _ in terms) > limits[cid]:
                m.add(sum(a * y for a, y in terms) <= limits[cid])
        money = sum(a for *_, a in self.uses)
        self.scale = money + 1 if money_tiebreak and self.uses else 1
        if self.scale > 1:
            m.maximize(self.scale * self.base.weight_expr + sum(a * y for _, _, y, a in self.uses))

    def set_hint(self, placements: dict[str, Placement]) -> None:
        self.base.set_hint(placements)
        class_of = {v.id: n for n, members in enumerate(self.classes) for v in members}
        for alt, c, y, _ in self.uses:
            p = placements.get(alt.request.id)
            on = (p is not None and p.voucher is not None and class_of[p.voucher] == c
                  and p.instrument == alt.instrument and p.operator == alt.operator)
            self.model.add_hint(y, on)

    def solve(self, hint: dict[str, Placement], time_limit: float, workers: int, seed: int,
              deterministic_time: float | None) -> tuple[str, list[Placement] | None, float | None]:
        self.set_hint(hint)
        solver = cp_model.CpSolver()
        self.base._params(solver, time_limit, workers, seed, deterministic_time)
        st = solver.solve(self.model)
        status = solver.status_name(st)
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return status, None, None
        out = self.base._extract(solver)
        free = [list(members) for members in self.classes]  # each class's vouchers, handed out in order
        for alt, c, y, _ in self.uses:
            if solver.boolean_value(y):
                out[alt.request.id].voucher = free[c].pop(0).id
        bound = solver.best_objective_bound // self.scale if self.scale > 1 else solver.best_objective_bound
        return status, list(out.values()), int(bound)


def explain_funded(problem: Problem, sched: Schedule, book: Ledger, r: Request) -> Unplaced:
    """Why ``r`` was left out of the funded schedule ``sched`` (vouchers used as in ``book``)."""
    if r.funding != "voucher" or r.cash_fallback:
        return explain_request(problem, sched, r)
    mine = problem.vouchers_of_request.get(r.id, [])
    if not mine:
        return Unplaced(r.id, "no_voucher",
                        f"no voucher of enterprise {r.enterprise} can pay for it on "
                        f"{', '.join(r.eligible) or 'any instrument'}, and it may not be paid in cash")
    base = explain_request(problem, sched, r)
    if base.code != "not_selected":
        return base
    taken, late, capped = [], [], []
    for v in mine:
        if v.id in book.used:
            taken.append(v)
        elif _earliest(sched, r, v, Ledger(problem)) is None:
            late.append(v)
        elif (cap := _cap_of(sched, r, v, book)) is not None:
            capped.append((v, cap))
        else:
            return base
    if capped:
        v, cap = capped[0]
        return Unplaced(r.id, "voucher_cap",
                        f"voucher {v.id} could fund it, but the cap {cap} is used up by the other "
                        f"placed voucher-funded requests", budget_holder=f"cap:{cap}")
    if late:
        v = late[0]
        return Unplaced(r.id, "voucher_expires",
                        f"voucher {v.id} expires (minute {v.expires}) before any free time that fits",
                        budget_holder=f"voucher:{v.id}")
    v = taken[0]
    holders = sorted({book.used[x.id] for x in taken})
    return Unplaced(r.id, "voucher_taken",
                    "every voucher that could fund it (" + ", ".join(x.id for x in taken)
                    + ") funds another placed request: " + ", ".join(holders),
                    holders=holders, budget_holder=f"voucher:{v.id}")


def _cap_of(sched: Schedule, r: Request, v: Voucher, book: Ledger) -> str | None:
    for alt in sched.static.alternatives(r):
        amount = _pays(v, r, alt.instrument)
        if amount > 0 and first_on_grid(_before(sched.free_starts(alt), v.expires), sched.static.grid) is not None:
            if (c := book.cap_blocker(v, amount)) is not None:
                return c
    return None


def _book_of(problem: Problem, placements: list[Placement], static: Static) -> tuple[Schedule, Ledger]:
    sched = Schedule(problem, static)
    book = Ledger(problem)
    for p in placements:
        sched.add(p)
        if p.voucher is not None:
            book.take(problem.voucher_by_id[p.voucher], problem.request_by_id[p.request], p.instrument)
    return sched, book


def relaxed(problem: Problem) -> Problem:
    """The problem without the voucher matching, for :func:`solver.pipeline.solve`: voucher-only
    requests that no voucher can fund are left out, the others count as cash requests.  Its
    schedules are funded afterwards (:func:`fund_schedule`)."""
    reqs = [replace(r, funding="cash", cash_fallback=False) for r in problem.requests
            if r.funding != "voucher" or r.cash_fallback or problem.vouchers_of_request.get(r.id)]
    return Problem(problem.horizon_minutes, problem.instruments, reqs, problem.enterprises,
                   problem.operators, problem.groups, problem.labs, problem.slot_minutes)


def fund_schedule(problem: Problem, placements: list[Placement], time_limit: float, workers: int,
                  seed: int, deterministic_time: float | None) -> list[Placement] | None:
    """Vouchers for a schedule made without them (times and instruments fixed): a CP-SAT
    assignment of voucher classes to its voucher-funded placements, with the expiry, class
    counts and caps of :class:`FundedModel`, keeping the heaviest voucher-only requests, then
    the most voucher money.  Voucher-only requests left without a voucher are dropped (None
    when CP-SAT finds nothing in time)."""
    classes = voucher_classes(problem)
    class_of = {v.id: n for n, members in enumerate(classes) for v in members}
    m = cp_model.CpModel()
    uses: list[tuple[Placement, int, cp_model.IntVar, int]] = []
    per_class: dict[int, list] = {}
    per_cap: dict[str, list] = {}
    kept = []
    for p in placements:
        r = problem.request_by_id[p.request]
        if r.funding != "voucher":
            continue
        zs, seen = [], set()
        for v in problem.vouchers_of_request.get(r.id, []):
            c, amount = class_of[v.id], _pays(v, r, p.instrument)
            if c in seen or amount <= 0 or (v.expires is not None and p.start >= v.expires):
                continue
            seen.add(c)
            z = m.new_bool_var("")
            zs.append(z)
            uses.append((p, c, z, amount))
            per_class.setdefault(c, []).append(z)
            for cap in problem.caps_of_voucher.get(v.id, []):
                per_cap.setdefault(cap.id, []).append((amount, z))
        if len(zs) > 1:
            m.add_at_most_one(zs)
        if not r.cash_fallback:
            kept += [(r.weight, z) for z in zs]
    for c, zs in per_class.items():
        if len(zs) > len(classes[c]):
            m.add(sum(zs) <= len(classes[c]))
    limits = {c.id: c.limit for c in problem.caps}
    for cid, terms in per_cap.items():
        if sum(a for a, _ in terms) > limits[cid]:
            m.add(sum(a * z for a, z in terms) <= limits[cid])
    scale = sum(a for *_, a in uses) + 1
    m.maximize(scale * sum(w * z for w, z in kept) + sum(a * z for _, _, z, a in uses))
    sol = cp_model.CpSolver()
    sol.parameters.max_time_in_seconds = max(0.05, time_limit)
    sol.parameters.num_workers = workers
    sol.parameters.random_seed = seed
    if deterministic_time is not None:
        sol.parameters.max_deterministic_time = deterministic_time
    if sol.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    free = [list(members) for members in classes]
    chosen = {p.request: free[c].pop(0).id for p, c, z, _ in uses if sol.boolean_value(z)}
    out = []
    for p in placements:
        r = problem.request_by_id[p.request]
        v = chosen.get(p.request)
        if r.funding == "voucher" and v is None and not r.cash_fallback:
            continue
        out.append(Placement(p.request, p.instrument, p.start, p.operator, v))
    return out


def solve_funded(problem: Problem, time_limit: float = 30.0, workers: int = 2, seed: int = 0,
                 progress: Callable[[str, dict], None] | None = None,
                 deterministic_time: float | None = None, pipeline_share: float = 0.4,
                 pipeline_min_requests: int = 100) -> Allocation:
    """The funded allocation (module docstring): the greedy incumbents, from
    ``pipeline_min_requests`` requests also the pipeline's schedule of the relaxed problem in
    ``pipeline_share`` of the time, funded; then CP-SAT from the heaviest. Each stage gets at
    most what is left of ``time_limit`` after a reserve for the explanations at the end (half the
    warm start's time: about one greedy pass), so the call keeps to its limit on a large or a
    slow-running problem. ``stats["fcfs_objective"]``: FCFS with the same vouchers (the warm
    start's FCFS candidate, as ``baselines.fcfs``)."""
    say = progress or (lambda stage, info: None)
    t0 = time.perf_counter()
    static = Static(problem)
    candidates = []
    for name, order in (("greedy", value_order(problem)), ("fcfs", problem.submitted_order())):
        sched, _ = greedy_funded(problem, order, static)
        candidates.append((sum(problem.request_by_id[k].weight for k in sched.placed), name, sched))
    timings = {"warm_start": time.perf_counter() - t0}
    # kept for what follows the search: the schedule booked again and every request left out
    # explained, about one greedy pass (measured just now on this problem), so the whole call
    # stays within ``time_limit``
    tail = max(0.1, timings["warm_start"] / 2)

    def left() -> float:
        return time_limit - (time.perf_counter() - t0) - tail

    fund_time = max(0.5, time_limit * 0.05)
    pipe_time = min(time_limit * pipeline_share, left() - fund_time - tail)  # another greedy pass refills
    if len(problem.requests) >= pipeline_min_requests and pipe_time > 1.0:
        from .pipeline import solve  # the pipeline sends funded problems here: it is given a relaxed one

        t1 = time.perf_counter()
        free = solve(relaxed(problem), time_limit=pipe_time, workers=workers, seed=seed,
                     deterministic_time=deterministic_time)
        funded = fund_schedule(problem, free.placements, min(fund_time, max(0.1, left() - tail)), workers, seed,
                               deterministic_time)
        if funded is not None:
            sched, _ = greedy_funded(problem, value_order(problem), static, funded)
            candidates.append((sum(problem.request_by_id[k].weight for k in sched.placed), "pipeline_funded", sched))
        timings["pipeline"] = time.perf_counter() - t1
    w, method, sched = max(candidates, key=lambda c: c[0])
    best = [sched.placed[r.id] for r in problem.requests if r.id in sched.placed]
    say("warm_start", {"objective": w, "method": method})
    status, bound = "HEURISTIC", None
    if left() > 0.1 and problem.requests:
        t1 = time.perf_counter()
        model = FundedModel(problem, static)
        status, found, bound = model.solve({p.request: p for p in best}, max(0.05, left()) * 0.9, workers, seed,
                                           deterministic_time)
        if found is not None and not check(problem, found):
            fw = sum(problem.request_by_id[p.request].weight for p in found)
            if fw >= w:
                best, w, method = found, fw, "cpsat_funded"
        timings["cp_sat"] = time.perf_counter() - t1
        say("cp_sat", {"objective": w, "status": status})
    if status not in ("OPTIMAL", "FEASIBLE") or method != "cpsat_funded":
        status = "HEURISTIC"  # CP-SAT found nothing, or nothing as heavy as the incumbent
    sched, book = _book_of(problem, best, static)
    alloc = Allocation(placements=best, objective=w, upper_bound=bound, status=status, method=method,
                       timings=timings)
    alloc.unplaced = [explain_funded(problem, sched, book, r) for r in problem.requests
                      if r.id not in sched.placed]
    # first come, first served with the same vouchers (``baselines.fcfs``: the same greedy in
    # submission order), already computed as a candidate: a caller comparing needs no second run
    alloc.stats["fcfs_objective"] = next(c[0] for c in candidates if c[1] == "fcfs")
    alloc.stats["voucher_fen"] = sum(problem.voucher_by_id[p.voucher].pays[p.request][p.instrument]
                                     for p in best if p.voucher is not None)
    timings["total"] = time.perf_counter() - t0
    return alloc
