r"""The allocation pipeline behind :func:`solver.solve`.

**Problem.**  Each request :math:`r` may take at most one alternative :math:`a = (r, i, o) \in
A_r` (instrument, operator if operator-run) at a start :math:`t \in T_a` (:mod:`solver.static`);
bookings with their set-up and clean-up do not overlap on an instrument, nor on an operator, at
most :math:`c_\ell` run at once in a lab, and every voucher budget holds,
:math:`\sum_{a \in A_k} \mathrm{spend}_a x_a \le \beta_k`.  Maximise the accepted weight
:math:`\sum_a w_{r(a)} x_a` (plus a bonus per enterprise served, with ``fairness_bonus``), then,
with that weight kept, minimise :math:`\sum_a |t_a - \pi_r|` over requests with a preferred start
:math:`\pi_r`.  The CP-SAT formulation is in :mod:`solver.model`.

**Method.**  The stages, in the order they start (their time shares, progress strings and
timing keys are in :mod:`solver.stages`; a component is one of :mod:`solver.decompose`):

``warm_start``
    value-greedy, value-greedy with best-fit starts and FCFS; the heaviest is the incumbent.
``decompose``
    independent components.  A binding budget that spans components is *split*: a component
    solves with caps, the residual budget :math:`\beta_k - \sum_{C' \ne C} \mathrm{spend}_k(C')`
    of the other components' current solutions (:func:`_residual_caps`); bounds use the full
    budget :math:`\beta_k` (``lp_caps``).
``patterns``
    up to ``pattern_max_requests`` requests, beside a component too big for an exact SCIP solve,
    a background child process (:func:`_pattern_search`): the pattern relaxation of the whole
    problem (:mod:`solver.patterns`, every budget exact) for its bound; once its LP has
    converged, a dive on the LP decoded with CP-SAT (:meth:`solver.patterns.PatternLP.dived`),
    then ruin and recreate, until the ``lns`` polishing, where its schedule replaces the main one
    if it weighs more.  With ``pattern_share`` > 0 it runs inline after ``knapsack`` instead (per
    component above ``pattern_max_requests``).
``components``
    above ``pattern_max_requests`` requests (with the LNS, 2+ workers, no deterministic time),
    instead of ``bounds``, ``knapsack`` and ``cp_sat``: per component, on both cores, its pattern
    LP with the full budgets (its bound), a dive within its caps, ruin and recreate
    (:mod:`solver.component_search`); the components' dual points joined give one bound with
    each shared budget counted once (:func:`_joined`, :func:`solver.patterns.joined_bound`).
``bounds``
    per component: the trivial bound :math:`\sum_{r \in C} w_r`, then the safe time-indexed LP
    bound (:mod:`solver.bound`), smallest components first.  Without ``knapsack``, small
    components are solved exactly as a time-indexed 0-1 MIP with SCIP; with ``knapsack`` and the
    LNS, components too big to prove skip the time-indexed LP (the window LP is nearly as tight
    and far faster).
``knapsack``
    per component with a gap, smallest first, the window-assignment relaxation
    (:mod:`solver.knapsack`): its safe LP bound, an LP-guided rounding (a candidate and a better
    hint), then its 0-1 program with SCIP (small components, rounded rows) or CP-SAT, whose
    decoded assignment is another candidate.  Without a pattern child, a child process does this
    but the 0-1 solve for the biggest components (about half the work of those too big to prove,
    :func:`_relax_big`) and the parent decodes their LP orders.  Then one LP over all components'
    relaxations with each shared budget counted once (:func:`solver.knapsack.coupled_bound`),
    inline up to ``coupled_max_vars`` variables, else in a background child.
``cp_sat``
    CP-SAT per component with a gap (:mod:`solver.model`), fully hinted with its best candidate,
    :math:`\sum w x \le U_C` added (so reaching :math:`U_C` proves optimality), time in proportion
    to the gaps, unused time flowing on; UNKNOWN keeps the candidate.  When the LNS follows, only
    components up to ``prove_max_requests`` requests get this stage, each briefly.
``merge``
    the components' solutions joined, then a greedy insertion pass of the unplaced requests
    against the global budgets.
``ruin_recreate``
    ruin and recreate over the whole schedule (:mod:`solver.recreate`); its first half on both
    cores, one child process per half of the resource clusters, when no pattern child runs
    (:func:`_recreate_in_halves`).  Neither it nor ``lns`` runs with a fairness bonus.
``lns``
    large-neighbourhood search with exact CP-SAT sub-problems (:mod:`solver.lns`); it stops at
    the proven bound, and its last ``polish_share`` minimises the distance to preferred starts.
    While the pattern child searches, on one core until the child reports; then the heavier of
    the two schedules is polished.
``check``
    the background bounds collected, the independent checker (:mod:`solver.checker`), the
    explanations of the requests left out (:mod:`solver.explain`).

**Invariants.**

* *Always feasible.*  The warm start is built on :class:`solver.schedule.Schedule`, which
  enforces every constraint.  A component's solution is replaced only by a heavier one that
  passes the checker (:func:`_offer`; CP-SAT's by a solution at least as heavy as its hint,
  which is its best candidate) and that keeps the component's caps; a component's caps plus the
  other components' spends never exceed a full budget, so the components' solutions joined keep
  every budget (the warm start's spends fit every initial share).  ``merge``, ``ruin_recreate``
  and ``lns`` keep the schedule feasible at every step.  ``check`` verifies the result
  independently and returns the warm start should it ever fail.
* *Never below the warm start*: every stage keeps the heavier of its input and its result
  (with a fairness bonus, CP-SAT's optimum of the bonus objective is taken instead).
* *Valid upper bound*:
  :math:`\min(B_{\mathrm{coupled\ or\ joined}}, B_{\mathrm{pattern}}, \sum_C U_C)` with
  :math:`U_C = \min(` trivial, time-indexed LP, window LP, SCIP's or CP-SAT's bound of the window
  program, the component's pattern bound, the exact MIP's or CP-SAT's bound when the component's
  budgets were not split :math:`)`.  Each :math:`U_C` bounds the whole problem restricted to
  :math:`C`: the relaxations use the full budgets, and an exact model's bound is taken only when
  the model has them.  Components share no instrument, operator or binding lab, so
  :math:`\sum_C U_C` bounds the whole problem; the coupled, joined and pattern bounds are
  relaxations of the whole problem by themselves.  Every LP bound is recomputed from dual values
  (valid at any dual point), so solver tolerances and time limits cannot make it invalid.

Measured figures for every stage: ``bench/RESULTS.md``.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

from .baselines import greedy_fill, value_order
from .bound import lp_bound, trivial_bound
from .checker import check
from .child import Child, balanced_halves, results
from .component_search import search_in_two
from .decompose import binding_budgets, budget_holder, budget_keys, decompose
from .explain import explain_unplaced
from .fair_share import is_limited, solve_fair
from .funding import is_funded, solve_funded
from .knapsack import KnapsackModel, PieceVar, coupled_bound, decode, decode_best, piece_vars
from .lns import LNS, resource_clusters
from .model import ComponentModel
from .patterns import PatternLP, joined_bound
from .problem import Allocation, Placement, Problem, voucher_spend
from .recreate import RuinRecreate
from .schedule import Schedule
from .stages import CHILD_MARGIN, SHARES, WINDOW_LP_MIN
from .static import Static


def _tighter(bound: int | None, other: int | None) -> int | None:
    """The smaller of two upper bounds, either of which may be missing (None)."""
    if bound is None:
        return other
    return bound if other is None else min(bound, other)


def _spends(problem: Problem, placements) -> dict[str, int]:
    """What ``placements`` spend from each budget (keys of :func:`solver.decompose.budget_keys`)."""
    out: dict[str, int] = {}
    for p in placements:
        r = problem.request_by_id[p.request]
        spend = voucher_spend(r, p.instrument)
        if spend:
            for k, _ in budget_keys(problem, r):
                out[k] = out.get(k, 0) + spend
    return out


def _residual_caps(problem: Problem, info: list[dict], d: dict) -> None:
    """Set the caps of ``d``'s component's split budgets to what the other components' current
    solutions leave of the full budgets.  Each component's spends are kept beside the solution
    they were counted on (a solution is replaced, never changed in place), so a solution's
    spends are counted once, not again for every component that reads them."""
    c = d["comp"]
    if not c.split:
        return
    for e in info:
        if e is not d and e.get("spends_of") is not e["sol"]:
            e["spends_of"], e["spends"] = e["sol"], _spends(problem, e["sol"])
    for k in c.split:
        c.caps[k] = c.lp_caps[k] - sum(e["spends"].get(k, 0) for e in info if e is not d)


def _pattern_search(problem: Problem, static: Static, requests, warm: dict[str, Placement],
                    deadline: float, search_deadline: float | None = None, seed: int = 0,
                    dive_share: float = SHARES.dive) -> dict:
    """The pattern relaxation's bound (:mod:`solver.patterns`) of ``requests``, by ``deadline``
    (``{"bound": ...}``).  With ``search_deadline``, when the LP converges more than a second
    before it, also a schedule (``"placements"``, ``"objective"``, ``"steps"``): a dive on the
    LP (:meth:`solver.patterns.PatternLP.dive`) for at most ``dive_share`` of the time left,
    decoded with the full budgets (:func:`solver.knapsack.decode_exact`), then ruin and recreate
    until ``search_deadline``: the ``patterns`` stage's child (:mod:`solver.stages`)."""
    pl = PatternLP(problem, static, requests)
    pl.columns_of(warm)
    pl.solve(deadline)
    out: dict = {"bound": pl.bound, "lp_done": time.perf_counter()}
    if search_deadline is None or time.perf_counter() > search_deadline - 1.0 or not pl.column_values:
        return out
    start = pl.dived(search_deadline, dive_share, pl.budget_of, list(requests), seed=seed)
    out["dive"] = {"seconds": round(time.perf_counter() - out["lp_done"], 2), "lp": pl.lp_value}
    del pl
    rr = RuinRecreate(problem, static, start, seed=seed)
    out["start"] = rr.objective
    rr.run(search_deadline, upper_bound=out["bound"])
    out.update(placements=list(rr.best.values()), objective=rr.best_objective, steps=rr.steps)
    return out


def _joined(info: list[dict], todo: list[dict], found: dict[int, dict]) -> int | None:
    """The ``components`` stage's bound of the whole problem: the searched components' (``todo``, results
    ``found`` by index) dual points joined, their shared budgets counted once
    (:func:`solver.patterns.joined_bound`, the smallest over the points each offers), plus
    every other component's own bound."""
    joint = [res["joint"] for res in found.values() if res["joint"] is not None]
    if not joint:
        return None
    budgets = {k: b for d in todo for k, b in d["comp"].lp_caps.items()}
    joined = min(joined_bound([parts[n] for parts in joint], budgets) for n in range(len(joint[0])))
    in_joint = {id(todo[n]) for n, res in found.items() if res["joint"] is not None}
    return joined + sum(d["ub"] for d in info if id(d) not in in_joint)


def _offer(problem: Problem, d: dict, placements) -> None:
    """Keep ``placements`` as the component's solution (``d``) if they weigh more and pass the
    checker."""
    placements = list(placements)
    w = sum(problem.request_by_id[p.request].weight for p in placements)
    if w > d["obj"] and not check(problem, placements):
        d["sol"], d["obj"] = placements, w


def _window_lp(problem: Problem, static: Static, c, share: float, deadline: float,
               max_divisor: int = 4) -> tuple[KnapsackModel, int | None]:
    """The window relaxation of component ``c`` (its caps for solutions, the full budgets for
    the bound) and its safe LP bound.  A time limit that stops GLOP early leaves a far looser
    (still valid) bound, so the LP gets at least :data:`solver.stages.WINDOW_LP_MIN` seconds (``share`` if
    more), within ``deadline``."""
    km = KnapsackModel(problem, static, c.requests, c.caps, max_divisor=max_divisor, bound_caps=c.lp_caps)
    return km, km.lp_bound(time_limit=max(0.1, min(max(WINDOW_LP_MIN, share), deadline - time.perf_counter() - 0.05)))


def _relax_big(problem: Problem, static: Static, comps, ks_deadline: float, deadline: float) -> list[dict]:
    """The ``knapsack`` stage's work on ``comps`` without the 0-1 solve, in a child process beside the parent's
    own share: per component the window relaxation's LP bound (full budgets), its LP-guided
    order as (request id, index among the request's piece variables) and the data of the
    coupled LP (:meth:`solver.knapsack.KnapsackModel.relaxation_data`)."""
    out = []
    for n, c in enumerate(comps):
        left = max(0.0, ks_deadline - time.perf_counter())
        share = left * len(c.requests) / sum(len(e.requests) for e in comps[n:])
        km, lpb = _window_lp(problem, static, c, share, deadline)
        index, k = {}, {}
        for pv, _ in km.vars:
            rid = pv.alt.request.id
            index[id(pv)] = (rid, k.get(rid, 0))
            k[rid] = k.get(rid, 0) + 1
        out.append({"lp_bound": lpb, "order": [index[id(pv)] for pv in km.lp_order()],
                    "relax": km.relaxation_data()})
    return out


def _order_of(problem: Problem, static: Static, keys) -> list[PieceVar]:
    """The piece variables named by ``keys`` (:func:`_relax_big`'s order), in that order."""
    pvs: dict[str, list[PieceVar]] = {}
    for rid, _ in keys:
        if rid not in pvs:
            pvs[rid] = piece_vars(problem, static, problem.request_by_id[rid])
    return [pvs[rid][k] for rid, k in keys]


def _recreate_half(problem: Problem, static: Static, placed: dict[str, Placement], seed: int,
                   instruments: set[str], caps: dict[str, int], deadline: float, upper_bound):
    """Ruin and recreate on ``instruments`` only, every budget of ``caps`` lowered to its share
    (in a child process: the lowered budgets are the child's copy); its best placements there."""
    for key, cap in caps.items():
        budget_holder(problem, key).voucher_budget = cap
    rr = RuinRecreate(problem, static, placed, seed=seed, instruments=instruments)
    rr.run(deadline, upper_bound=upper_bound)
    return ({rid: p for rid, p in rr.best.items() if p.instrument in instruments},
            {"steps": rr.steps, "improved": rr.improved})


def _recreate_in_halves(problem: Problem, static: Static, sched: Schedule, seed: int, deadline: float,
                        upper_bound, progress=None) -> tuple[Schedule, dict] | None:
    """Ruin and recreate on both cores: the resource clusters in two halves of about as many
    requests, one child process each.  A binding budget spent from both halves gives each half
    what is spent now plus half of what is left, so the two results joined keep it; every
    other budget stays whole.  Returns the joined schedule (checked) or None (one cluster, or
    no fork); ``progress("recreate", ...)`` about once a second while the children run."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    clusters = resource_clusters(problem, static)
    cluster_of = {i: n for n, c in enumerate(clusters) for i in c}
    size = [0] * len(clusters)
    for r in problem.requests:
        alts = static.alternatives(r)
        if alts:
            size[cluster_of[alts[0].instrument]] += 1
    parts, load = balanced_halves(range(len(clusters)), size.__getitem__)
    halves = [set().union(*(clusters[n] for n in part)) for part in parts]
    if min(load) == 0:
        return None
    caps: list[dict[str, int]] = [{}, {}]
    for key, reqs in binding_budgets(problem, static, problem.requests).items():
        sides = {0 if static.alternatives(r)[0].instrument in halves[0] else 1 for r in reqs}
        if len(sides) < 2:
            continue
        spent = sched.spent(key)
        for h in (0, 1):
            caps[h][key] = spent + (budget_holder(problem, key).voucher_budget - spent) // 2
    jobs = [Child(_recreate_half, problem, static, sched.placed, seed + h, halves[h], caps[h], deadline,
                  upper_bound) for h in (0, 1)]
    got = results(jobs, deadline + 5.0, progress, "recreate", {"halves": load})
    if any(res is None for res in got):
        return None
    joined = {rid: p for rid, p in sched.placed.items()
              if p.instrument not in halves[0] and p.instrument not in halves[1]}
    for placed, _ in got:
        joined.update(placed)
    if check(problem, list(joined.values())):  # never expected: keep the schedule as it was
        return None
    out = Schedule(problem, static)
    for p in joined.values():
        out.add(p)
    return out, {"steps": sum(st["steps"] for _, st in got), "improved": sum(st["improved"] for _, st in got),
                 "halves": load}


def solve(problem: Problem, time_limit: float = 30.0, workers: int = 2, seed: int = 0,
          progress: Callable[[str, dict], None] | None = None, *, fairness_bonus: int = 0,
          deterministic_time: float | None = None, phase2_share: float = SHARES.phase2,
          bound_share: float = SHARES.bound, merge_limit: int = 400, use_lp: bool = True, mip_max_requests: int = 80,
          mip_time: float | None = None, use_knapsack: bool = True, knapsack_share: float | None = None,
          lns_share: float = SHARES.lns, lns_days: int = 3, lns_step: float = 0.15, polish_share: float = SHARES.polish,
          coupled_max_vars: int = 60_000,
          coupled_background_vars: int = 300_000,
          prove_max_requests: int = 150, prove_share: float = SHARES.prove, pattern_share: float = SHARES.pattern,
          pattern_background: bool = True,
          pattern_max_requests: int = 3000, component_share: float = SHARES.component,
          recreate_share: float = SHARES.recreate,
          recreate_steps: int = 300, recreate_halves: bool = True) -> Allocation:
    """Maximise accepted weight, then closeness to preferred starts (the module docstring gives
    the stages; :mod:`solver.stages` their default time shares, the ``*_share`` defaults here).

    time_limit: seconds for the whole call (approximately; greedy and model building included).
    workers / seed: CP-SAT ``num_workers`` / ``random_seed``.
    progress: optional ``progress(stage, info)`` callback (stage strings: :mod:`solver.stages`).
    fairness_bonus: weight of each enterprise with at least one accepted request (0 = off).
    deterministic_time: CP-SAT ``max_deterministic_time`` per component (tests).
    phase2_share: share of each component's ``cp_sat`` time for the preferred starts.
    mip_max_requests / mip_time: components up to this size get their window relaxation solved
        with SCIP (with rounded rows) for at least min(``mip_time``, 80 % of the time left)
        (default ``mip_time`` min(85 % of the limit, max(1.5 s, 1 s + 3 % of it))); without the
        ``knapsack`` stage they are solved exactly as a time-indexed 0-1 MIP with SCIP instead.
    use_knapsack / knapsack_share: the ``knapsack`` stage: the window-assignment relaxation
        (:mod:`solver.knapsack`) of every component with a gap, in ``knapsack_share`` of the time
        before the LNS: its bound bounds the component, its decoded assignment is a candidate
        solution (default ``SHARES.knapsack_small`` up to ``SHARES.knapsack_max_requests``
        requests, else ``SHARES.knapsack_large``: on many components the LNS gains more).  Every
        component gets its LP bound regardless.
    bound_share: share of the time for the ``bounds`` stage (time-indexed LP / MIP bounds).
    lns_share / lns_days: share of the time kept for the ``lns`` stage (:mod:`solver.lns`) over
        ranges of ``lns_days`` days, ``lns_step`` seconds per sub-problem, at the end (not with a
        fairness bonus); its last ``polish_share`` minimises the distance to preferred starts,
        weight kept.
    prove_max_requests / prove_share: components above the first go to the LNS without a proof
        attempt; when there is such a component, each smaller one gets at most max(0.5 s,
        ``prove_share`` x ``time_limit``) in the ``cp_sat`` stage.
    recreate_share / recreate_steps: share of the time left after ``merge`` for the
        ``ruin_recreate`` stage (:mod:`solver.recreate`) before the LNS (``recreate_steps`` steps
        with ``deterministic_time``).
    recreate_halves: run the first half of that search on both cores, one child process per
        half of the resource clusters (with 2+ workers, when no pattern child runs).
    pattern_background / pattern_share / pattern_max_requests: the ``patterns`` stage: the pattern
        relaxation of the whole problem (at most ``pattern_max_requests`` requests) in a child
        process (no bound from it where fork is missing), which also searches once its LP
        converges (with the LNS on); with ``pattern_share`` > 0 instead inline in that share of
        the time, before ``cp_sat`` (per component above ``pattern_max_requests``).
    component_share: above ``pattern_max_requests`` requests, the share of the time for the
        ``components`` stage (0 turns it off: ``bounds``, ``knapsack`` and ``cp_sat`` as below
        that size).
    coupled_max_vars / coupled_background_vars: the coupled LP is waited for up to the first,
        computed in a child process (lower priority, until ``CHILD_MARGIN`` before the end) up to
        the second, else skipped.
    """
    if is_limited(problem):  # a share limit on contested time: its own path (:mod:`solver.fair_share`)
        return solve_fair(problem, time_limit, workers, seed, progress, deterministic_time)
    if is_funded(problem):  # vouchers to match: its own path (:mod:`solver.funding`)
        return solve_funded(problem, time_limit, workers, seed, progress, deterministic_time)
    T0 = time.perf_counter()
    final_deadline = T0 + time_limit
    use_lns = lns_share > 0 and not fairness_bonus
    if knapsack_share is None:
        knapsack_share = (SHARES.knapsack_small if len(problem.requests) <= SHARES.knapsack_max_requests
                          else SHARES.knapsack_large)
    deadline = final_deadline
    mip_default = mip_time if mip_time is not None else min(0.85 * time_limit, max(1.5, 1.0 + 0.03 * time_limit))
    timings: dict[str, float] = {}
    say = progress or (lambda stage, info: None)
    static = Static(problem)

    # warm_start
    t = time.perf_counter()
    best_sched, best_obj, warm_name = None, -1, ""
    by_value = value_order(problem)
    for name, order, fit in (("greedy", by_value, False), ("bestfit", by_value, True),
                             ("fcfs", problem.submitted_order(), False)):
        sched = Schedule(problem, static)
        greedy_fill(problem, order, sched, best_fit=fit)
        obj = sum(problem.request_by_id[k].weight for k in sched.placed)
        if obj > best_obj:
            best_sched, best_obj, warm_name = sched, obj, name
    warm = dict(best_sched.placed)
    timings["warm_start"] = time.perf_counter() - t
    say("warm_start", {"objective": best_obj, "method": warm_name})

    # decompose
    t = time.perf_counter()
    comps, hopeless = decompose(problem, static, warm, merge_limit=merge_limit)
    timings["decompose"] = time.perf_counter() - t
    say("decompose", {"components": len(comps), "hopeless": len(hopeless)})
    pattern_job = None  # the pattern relaxation of the whole problem, in the background
    search_at = None  # when the pattern child's search reports (it searches from its LP until then)
    pattern_res = None  # what it reported, once collected ({} if nothing)
    if (pattern_background and not pattern_share and len(problem.requests) <= pattern_max_requests
            and any(len(c.requests) > mip_max_requests for c in comps)):
        # patterns, in the background: only beside components too big for an exact SCIP solve
        # (a second process would slow that solve past its time); at a lower priority, so the
        # stages from bounds to ruin_recreate lose less while its LP still converges on medium.
        # Once its LP has converged the child also searches, from a dive on the LP, until the
        # polishing at the end of lns
        if use_lns and deterministic_time is None and not fairness_bonus:
            search_at = final_deadline - max(1.0, polish_share * lns_share * time_limit)
        pattern_job = Child(_pattern_search, problem, static, [r for c in comps for r in c.requests], warm,
                            final_deadline - CHILD_MARGIN, search_at, seed, nice=5)
    # CP-SAT on one worker while the pattern child runs, which then has a core to itself: its LP
    # converges sooner and it searches longer
    cp_workers = 1 if pattern_job is not None else workers
    lns_follows = use_lns and any(len(c.requests) > prove_max_requests for c in comps)
    if lns_follows:
        deadline -= lns_share * time_limit  # kept for lns, over the components too big to prove

    # bounds (the trivial bound here; components, the LP bounds and knapsack below)
    t = time.perf_counter()
    info = []
    for c in comps:
        ids = {r.id for r in c.requests}
        c_warm = {k: p for k, p in warm.items() if k in ids}
        w_obj = sum(problem.request_by_id[k].weight for k in c_warm)
        ub = trivial_bound(c.requests, static)
        d = {"comp": c, "warm": c_warm, "warm_obj": w_obj, "ub": ub, "lp": None, "ks": None,
             "sol": list(c_warm.values()), "obj": w_obj, "status": "OPTIMAL" if w_obj >= ub else "WARM"}
        info.append(d)
    coupled, coupled_info = None, {}
    bound_deadline = time.perf_counter() + bound_share * max(0.0, deadline - time.perf_counter())
    # components: above pattern_max_requests, each component's pattern LP (bound and start) and
    # ruin and recreate on it, two processes (solver.component_search), until component_share of
    # the time; it replaces the time-indexed and window relaxations (bounds, knapsack) and cp_sat
    by_components = (component_share > 0 and len(problem.requests) > pattern_max_requests and use_lns
                     and workers > 1 and deterministic_time is None)
    if by_components:
        todo_c = [d for d in info if d["obj"] < d["ub"]]
        found = search_in_two(problem, static, [d["comp"] for d in todo_c], warm,
                              T0 + component_share * time_limit, seed=seed, progress=say)
        for n, res in found.items():
            d = todo_c[n]
            if res["bound"] is not None:
                d["ub"] = min(d["ub"], res["bound"])
            _offer(problem, d, res["placements"])
            d["status"] = "OPTIMAL" if d["obj"] >= d["ub"] else "SEARCHED"
        coupled = coupled_info["bound"] = _joined(info, todo_c, found)
        coupled_info["components"] = {
            "searched": len(found), "of": len(todo_c),
            "lp_seconds": round(sum(res["lp_seconds"] for res in found.values()), 2),
            "steps": sum(res["steps"] for res in found.values()),
            "start": sum(res["start"] for res in found.values()),
            "objective": sum(res["objective"] for res in found.values())}
    # bounds: time-indexed LP bounds (and, without knapsack, exact MIP on small components),
    # cheap ones first so the time goes as far as possible
    for d in sorted(info, key=lambda d: len(d["comp"].requests)):
        if d["obj"] >= d["ub"] or not use_lp or by_components:
            continue
        left = bound_deadline - time.perf_counter()
        if left <= 0.05:
            break
        c = d["comp"]
        if use_knapsack and lns_follows and len(c.requests) > prove_max_requests:
            # the window relaxation's LP (knapsack) is nearly as tight and far faster; this
            # stage's share of the time would not let the time-indexed LP converge on them
            continue
        if len(c.requests) <= mip_max_requests and not fairness_bonus and not c.split and not use_knapsack:
            # small component: exact time-indexed 0-1 model with SCIP (solution + proof)
            mip_left = min(mip_default, deadline - time.perf_counter() - 0.1)
            if mip_left <= 0.05:
                continue
            b, mi = lp_bound(problem, static, c.requests, c.caps, time_limit=mip_left, integer=True)
            if b is not None and "placements" in mi:
                _offer(problem, d, mi["placements"])
                if mi.get("optimal") and not c.split:
                    d["ub"] = min(d["ub"], b)
                    d["status"] = "OPTIMAL" if d["obj"] >= d["ub"] else d["status"]
                    if d["obj"] >= d["ub"]:
                        continue
        b, lpinfo = lp_bound(problem, static, c.requests, c.lp_caps, time_limit=left)
        d["lp"] = lpinfo
        if b is not None:
            d["ub"] = min(d["ub"], b)
    coupled_job = None  # the coupled LP when it runs in the background
    p_reserve = pattern_share * time_limit if pattern_share > 0 else 0.0  # kept for inline patterns
    # knapsack: window-assignment relaxation: bound + decoded solution, smallest components first
    if use_knapsack and not by_components:
        ks_deadline = time.perf_counter() + knapsack_share * max(0.0, deadline - p_reserve - time.perf_counter())
        todo_ks = sorted((d for d in info if d["obj"] < d["ub"]), key=lambda d: len(d["comp"].requests))
        # without a pattern child the second core idles here: a child process takes the
        # biggest components (about half of the work of those too big to prove) and does
        # their part of this stage but the 0-1 solve, which they get no time for on large
        # anyway; the parent reaches them last and decodes their orders with residual caps
        big = [d for d in todo_ks if len(d["comp"].requests) > prove_max_requests]
        by_child: dict[int, int] = {}  # id(component) -> its place in the child's list
        relax_job, child_out = None, None
        if pattern_job is None and workers > 1 and deterministic_time is None and len(big) > 1:
            half, theirs = 0.55 * sum(len(d["comp"].requests) for d in big), []
            for d in reversed(big):
                if theirs and sum(len(e.requests) for e in theirs) + len(d["comp"].requests) > half:
                    break
                theirs.append(d["comp"])
            relax_job = Child(_relax_big, problem, static, theirs, ks_deadline, deadline)
            if relax_job.proc is not None:
                by_child = {id(c): n for n, c in enumerate(theirs)}
        for n, d in enumerate(todo_ks):
            if deadline - time.perf_counter() <= 0.05:
                break
            c = d["comp"]
            if id(c) in by_child:
                if child_out is None:
                    child_out = relax_job.result(timeout=deadline - time.perf_counter()) or []
                got = child_out[by_child[id(c)]] if by_child[id(c)] < len(child_out) else None
                if got is not None:  # else (no result in time) the parent does it below
                    _residual_caps(problem, info, d)
                    _offer(problem, d, decode(problem, static, _order_of(problem, static, got["order"]),
                                              caps=c.caps, fill=c.requests, keep_order=True).values())
                    d["relax"], d["ks"] = got["relax"], {"status": "SKIPPED", "lp_bound": got["lp_bound"],
                                                         "child": True}
                    if got["lp_bound"] is not None:
                        d["ub"] = min(d["ub"], got["lp_bound"])
                    if d["obj"] >= d["ub"]:
                        d["status"] = "OPTIMAL"
                    continue
            # every component gets its LP bound; the 0-1 solves share what is left of the stage
            left = max(0.0, ks_deadline - time.perf_counter())
            share = left * len(c.requests) / sum(len(e["comp"].requests) for e in todo_ks[n:]
                                                 if id(e["comp"]) not in by_child or e is d)
            tk = time.perf_counter()
            small = len(c.requests) <= mip_max_requests
            _residual_caps(problem, info, d)
            km, lpb = _window_lp(problem, static, c, share, deadline, max_divisor=3 if small else 4)
            # LP-guided rounding: a candidate solution and a better hint
            _offer(problem, d, decode(problem, static, km.lp_order(), caps=c.caps, fill=c.requests,
                                      keep_order=True).values())
            share -= time.perf_counter() - tk
            if small:  # SCIP with rounded rows closes small ones fastest, deterministically
                # without the cardinality cuts: SCIP's branching closes these as fast either way
                # and the cuts only steer it elsewhere; the LP bound above has them
                res = km.solve_mip(max(0.05, share, min(mip_default, 0.8 * (deadline - time.perf_counter()))), cuts=False)
                d["ks_mip"] = True
            elif share > 0.1 or deterministic_time is not None:
                res = km.solve(max(0.05, share), workers=cp_workers, seed=seed,
                               hint={p.request: p for p in d["sol"]},
                               deterministic_time=deterministic_time)
            else:
                res = {"status": "SKIPPED", "vars": len(km.vars)}
            d["relax"] = km.relaxation_data()
            d["ks"] = {k: v for k, v in res.items() if k != "chosen"}
            d["ks"]["lp_bound"] = lpb
            if lpb is not None:
                d["ub"] = min(d["ub"], lpb)
            # the 0-1 program's own bound is a bound of the component only with full budgets
            if res.get("bound") is not None and (not c.split or res.get("solver") == "scip"):
                d["ub"] = min(d["ub"], res["bound"])
            elif c.split and res.get("status") == "OPTIMAL" and d["ub"] > res["objective"]:
                # solved quickly with residual caps: solve again with the full budgets for a bound
                left2 = min(share, ks_deadline - time.perf_counter())
                if left2 > 0.05:
                    kb = KnapsackModel(problem, static, c.requests, c.lp_caps)
                    rb = kb.solve(left2, workers=cp_workers, seed=seed, deterministic_time=deterministic_time)
                    if rb.get("bound") is not None:
                        d["ub"] = min(d["ub"], rb["bound"])
            if "chosen" in res:
                _offer(problem, d, decode_best(problem, static, res["chosen"], caps=c.caps, fill=c.requests).values())
            if d["obj"] >= d["ub"]:
                d["status"] = "OPTIMAL"
        if relax_job is not None and child_out is None:  # the stage ran out of time first
            relax_job.result(timeout=0.0)
        # one LP over all relaxations, the shared budgets counted once, capped by each component's
        # bound (a component that shares no budget adds its bound: the LP would split there anyway)
        coupled_info["time"] = time.perf_counter()
        parts = [(d.get("relax") if d["comp"].split else None, d["ub"]) for d in info]
        nvars = sum(len(data["weights"]) for data, _ in parts if data)
        budgets = {k: v for c in comps for k, v in c.lp_caps.items()}
        if 0 < nvars <= coupled_max_vars and deadline - time.perf_counter() > 0.5:
            coupled = coupled_bound(parts, budgets,
                                    time_limit=max(0.1, min(0.1 * time_limit, 0.25 * (deadline - time.perf_counter()))))
            coupled_info["bound"] = coupled
        elif coupled_max_vars < nvars <= coupled_background_vars:
            # too big to wait for: GLOP runs beside cp_sat, merge, ruin_recreate and lns in a
            # child process at the lowest priority, so it takes a core only when one idles (the
            # single-core part of ruin_recreate) and the two ruin_recreate halves keep both cores;
            # its bound is collected in check
            coupled_job = Child(coupled_bound, parts, budgets, time_limit, final_deadline - CHILD_MARGIN, nice=19)
        coupled_info["vars"] = nvars
        coupled_info["time"] = time.perf_counter() - coupled_info["time"]
        for d in info:
            d.pop("relax", None)
        say("knapsack", {"upper_bound": sum(d["ub"] for d in info), "objective": sum(d["obj"] for d in info),
                         "coupled_bound": coupled})
    # patterns, inline (pattern_share > 0): the pattern relaxation (solver.patterns) of the whole
    # problem when it is small enough (every budget exact), else per component (full budgets)
    if pattern_share > 0 and any(d["obj"] < d["ub"] for d in info):
        tp, pl = time.perf_counter(), None
        p_deadline = min(deadline - 0.1, tp + pattern_share * time_limit)
        if len(problem.requests) <= pattern_max_requests:
            pl = PatternLP(problem, static, [r for c in comps for r in c.requests])
            pl.columns_of({p.request: p for d in info for p in d["sol"]})
            pstats = pl.solve(p_deadline)
            coupled = _tighter(coupled, pl.bound)
        else:
            todo_p = [d for d in info if d["obj"] < d["ub"]]
            pstats = {"components": len(todo_p)}
            for n, d in enumerate(todo_p):
                left = p_deadline - time.perf_counter()
                if left <= 0.05:
                    break
                size = len(d["comp"].requests)
                pl = PatternLP(problem, static, d["comp"].requests)
                pl.columns_of({p.request: p for p in d["sol"]})
                pl.solve(time.perf_counter() + left * size / sum(len(e["comp"].requests) for e in todo_p[n:]))
                if pl.bound is not None:
                    d["ub"] = min(d["ub"], pl.bound)
                    d["status"] = "OPTIMAL" if d["obj"] >= d["ub"] else d["status"]
            pstats["bound"] = sum(d["ub"] for d in info)
        del pl
        pstats["time"] = round(time.perf_counter() - tp, 3)
        coupled_info["patterns"] = pstats
    timings["bound"] = time.perf_counter() - t
    say("bound", {"upper_bound": sum(d["ub"] for d in info)})

    # cp_sat: CP-SAT per component
    t = time.perf_counter()
    # with the LNS to come, only components small enough for CP-SAT to prove optimal
    todo = [d for d in info if d["obj"] < d["ub"] and not by_components
            and (not use_lns or len(d["comp"].requests) <= prove_max_requests)]
    for d in todo:  # CP-SAT starts from the best known component solution
        d["warm"] = {p.request: p for p in d["sol"]}
        d["warm_obj"] = d["obj"]
    todo.sort(key=lambda d: (d["ub"] - d["warm_obj"], len(d["comp"].requests)))
    statuses: dict[str, int] = {}
    for n, d in enumerate(todo):
        left = deadline - time.perf_counter()
        if left <= 0.05 and deterministic_time is None:
            break
        gaps = sum(max(1, e["ub"] - e["warm_obj"]) + 0.02 * len(e["comp"].requests) for e in todo[n:])
        mine = max(1, d["ub"] - d["warm_obj"]) + 0.02 * len(d["comp"].requests)
        share = max(0.05, left * mine / gaps)
        if lns_follows:  # the LNS works on this component again: no long proof attempts
            share = min(share, max(0.5, prove_share * time_limit))
        c = d["comp"]
        _residual_caps(problem, info, d)
        ub_constraint = d["ub"] if not fairness_bonus else None
        cm = ComponentModel(problem, static, c.requests, c.caps, upper_bound=ub_constraint,
                            fairness_bonus=fairness_bonus)
        has_pref = any(r.preferred_start is not None for r in c.requests)
        p2 = phase2_share * share if has_pref else 0.0
        res = cm.solve(d["warm"], time_limit=share - p2, workers=cp_workers, seed=seed,
                       deterministic_time=deterministic_time, phase2_time=p2)
        statuses[res.status] = statuses.get(res.status, 0) + 1
        if res.objective >= d["warm_obj"] or fairness_bonus:
            d["sol"], d["obj"] = res.placements, res.objective
        d["status"] = res.status
        if res.status == "OPTIMAL" and not c.split and not fairness_bonus:
            d["ub"] = min(d["ub"], res.objective)
        elif res.cp_bound is not None and not c.split:
            d["ub"] = min(d["ub"], int(res.cp_bound + 1e-6))
        say("component", {"index": n, "of": len(todo), "requests": len(c.requests),
                          "objective": d["obj"], "upper_bound": d["ub"], "status": res.status})
    timings["cpsat"] = time.perf_counter() - t

    # merge + insertion pass
    t = time.perf_counter()
    sched = Schedule(problem, static)
    for d in info:
        for p in d["sol"]:
            sched.add(p)
    greedy_fill(problem, by_value, sched)
    timings["insertion"] = time.perf_counter() - t

    # ruin_recreate, then lns, each until the proven bound at most
    lns_stats = None
    ub_now = _tighter(sum(d["ub"] for d in info), coupled)
    has_pref = any(r.preferred_start is not None for r in problem.requests)
    rr_stats = None
    # ruin_recreate: its first half on both cores when no pattern child runs
    if use_lns and recreate_share > 0 and sum(problem.request_by_id[k].weight for k in sched.placed) < ub_now:
        t = time.perf_counter()
        rr_deadline = t + recreate_share * max(0.0, final_deadline - t)
        before = sum(problem.request_by_id[k].weight for k in sched.placed)
        halves = None
        if recreate_halves and workers > 1 and deterministic_time is None and pattern_job is None:
            halves = _recreate_in_halves(problem, static, sched, seed, t + 0.5 * (rr_deadline - t), ub_now,
                                         progress=say)
        rr_stats = {"steps": 0, "improved": 0}
        if halves is not None:
            sched, rr_stats = halves
        rr = RuinRecreate(problem, static, sched.placed, seed=seed)
        rr.run(rr_deadline if deterministic_time is None else None,
               max_steps=None if deterministic_time is None else recreate_steps,
               upper_bound=ub_now, progress=say)
        sched = rr.sched
        rr_stats["steps"] += rr.steps
        rr_stats["improved"] += rr.improved
        rr_stats["gained"] = sum(problem.request_by_id[k].weight for k in sched.placed) - before
        timings["recreate"] = time.perf_counter() - t
    # lns: large-neighbourhood search with exact sub-problems, polishing at the end
    if use_lns and (has_pref or sum(problem.request_by_id[k].weight for k in sched.placed) < ub_now):
        t = time.perf_counter()
        lns = LNS(problem, static, sched.placed, seed=seed, workers=1, max_left_out=15)
        lns_stats = {"steps": 0, "improved": 0, "gained": 0}
        if search_at is not None:
            # weight only, on one core (the pattern child searches on the other), until the
            # child reports; the better schedule is polished
            lns.run(search_at, days=lns_days, step_time=lns_step, progress=say, threads=1, upper_bound=ub_now)
            if lns.objective < ub_now and pattern_job.ready(search_at + 0.5 - time.perf_counter()):
                pattern_res = pattern_job.result(timeout=0.0) or {}
                pattern_job = None
                theirs = pattern_res.get("placements")
                if theirs and pattern_res["objective"] > lns.objective and not check(problem, theirs):
                    for k in lns_stats:
                        lns_stats[k] += getattr(lns, k)
                    lns = LNS(problem, static, {p.request: p for p in theirs}, seed=seed, workers=1, max_left_out=15)
                    pattern_res["taken"] = True
                    say("patterns", {"objective": lns.objective})
        lns.run(final_deadline, days=lns_days, step_time=lns_step, progress=say, threads=workers,
                deterministic_time=deterministic_time,
                polish_share=(1.0 if search_at is not None else polish_share) if has_pref else 0.0,
                upper_bound=ub_now)
        sched = lns.sched
        greedy_fill(problem, by_value, sched)
        for k in lns_stats:
            lns_stats[k] += getattr(lns, k)
        lns_stats["closer_minutes"] = lns.closer
        timings["lns"] = time.perf_counter() - t
    placements = [sched.placed[r.id] for r in problem.requests if r.id in sched.placed]

    # check: the background bounds, check, explain
    t = time.perf_counter()
    weight = sum(problem.request_by_id[p.request].weight for p in placements)

    def collect(job: Child):
        """A background bound: waited for until just after the end, not at all once the
        schedule already meets a bound (the child is killed)."""
        proven = weight >= _tighter(sum(d["ub"] for d in info), coupled)
        return job.result(timeout=0.0 if proven else final_deadline + 0.5 - time.perf_counter())

    if coupled_job is not None:
        coupled_info["bound"] = cb = collect(coupled_job)
        coupled = _tighter(coupled, cb)
    if pattern_job is not None:
        pattern_res = collect(pattern_job) or {}
    if pattern_res is not None:  # a child ran ({} if it gave nothing)
        pb = pattern_res.get("bound")
        coupled_info["patterns_background"] = {"bound": pb, **{k: v for k, v in pattern_res.items()
                                                               if k in ("start", "objective", "steps", "taken", "dive")}}
        if "lp_done" in pattern_res:  # seconds from the start of the call to the LP's end
            coupled_info["patterns_background"]["lp_seconds"] = round(pattern_res["lp_done"] - T0, 2)
        coupled = _tighter(coupled, pb)
    violations = check(problem, placements)
    fallback = False
    if violations:  # never expected; keep the warm start rather than return garbage
        fallback = True
        sched = best_sched
        placements = [warm[r.id] for r in problem.requests if r.id in warm]
    obj = sum(problem.request_by_id[p.request].weight for p in placements)
    ub = _tighter(sum(d["ub"] for d in info), coupled)
    ub = max(ub, obj) if fallback else ub
    alloc = Allocation(placements=placements, objective=obj, upper_bound=ub,
                       status="OPTIMAL" if obj >= ub else "FEASIBLE", method="cpsat")
    alloc.unplaced = explain_unplaced(problem, sched)
    timings["check_explain"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - T0
    alloc.timings = timings
    alloc.stats = {
        "warm_start": warm_name, "warm_objective": best_obj, "components": len(comps),
        "components_solved": len(todo), "component_statuses": statuses,
        "split_budgets": sorted({k for c in comps for k in c.split}),
        "grid": static.grid, "checker_fallback": fallback, "violations": violations[:5],
        "coupled_bound": coupled_info, "recreate": rr_stats, "lns": lns_stats,
    }
    alloc.stats["component_detail"] = [
        {"requests": len(d["comp"].requests), "warm": d["warm_obj"], "objective": d["obj"],
         "upper_bound": d["ub"], "status": d["status"], "split": len(d["comp"].split),
         "lp_time": round(d["lp"]["time"], 3) if d["lp"] and "time" in d["lp"] else None,
         "knapsack": d["ks"]}
        for d in info]
    if fairness_bonus:
        alloc.stats["enterprises_served"] = len({problem.request_by_id[p.request].enterprise for p in placements})
    say("done", {"objective": obj, "upper_bound": ub})
    return alloc
