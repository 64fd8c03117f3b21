r"""Pattern (configuration) relaxation of the whole problem, by column generation: the bound of
the ``patterns`` and ``components`` stages (:mod:`solver.stages`) and their starts.

A *piece* :math:`p` is a free part of one window of one instrument (:mod:`solver.static`); every
booking lies, with its buffers, inside one piece.  A *pattern* :math:`S` of a piece is a set of
requests that can be sequenced inside it.  With :math:`x_{p,S} \ge 0`:

.. math::
    \max \sum_{p,S} w(S)\, x_{p,S} \quad \text{s.t.} \quad
    \sum_{p,S \ni r} x_{p,S} \le 1 \ \forall r \ (\pi_r), \qquad
    \sum_S x_{p,S} \le 1 \ \forall p \ (\sigma_p),

.. math::
    \sum_{p,S} d_{o,W}(S)\, x_{p,S} \le |W \cap \text{working time of } o| \ \forall o, W \ (\mu),
    \qquad
    \sum_{p,S} d_{\ell,W}(S)\, x_{p,S} \le c_\ell |W| \ \forall \ell, W \ (\mu),
    \qquad
    \sum_{p,S} \mathrm{spend}_k(S)\, x_{p,S} \le \beta_k \ \forall k \ (\lambda),

where :math:`d_{o,W}(S)` is the operator time of :math:`S` on operator :math:`o` for bookings
inside the interval :math:`W` (an operator's working windows; for a binding lab the merged
windows of its instruments) and :math:`\mathrm{spend}_k(S)` the voucher spend on budget
:math:`k`.  This is the Dantzig-Wolfe reformulation of the window-assignment model
(:mod:`solver.knapsack`) with the piece constraints convexified, so its LP is at least as
strong as that model's LP, usually much stronger (the integrality of each piece's knapsack).

**Which sets are patterns.**  On the grid, a piece has length :math:`L` and each candidate
booking (request :math:`r` on alternative :math:`a` inside :math:`p`) has energy
:math:`e = S_i + d_r + C_i` and a *span* (the earliest blocked start to the latest blocked end).
A booking whose span starts at the piece start has a deadline offset :math:`D` (span end); one
whose span ends at the piece end has a release offset :math:`R`; a booking whose span is the
whole piece has neither.  A set is a pattern iff (i) the deadline bookings, in order of
:math:`D`, have prefix energies :math:`\le D`, (ii) the release bookings, in order of decreasing
:math:`R`, have suffix energies :math:`\le L - R`, and (iii) the total energy is :math:`\le L`
(deadline bookings first, release bookings last, the free ones between: exact).  A booking
whose span is strictly inside the piece keeps only its deadline (a relaxation); an alternative
whose start set in the piece has holes is treated by its span (a relaxation).  Relaxed sets are
still valid for the bound; decoded patterns are placed and checked like any other candidate.

**Pricing** (exact over those sets): for duals :math:`y \ge 0` each booking has the profit
:math:`w_r - \pi_r - \mu \cdot d - \lambda \cdot \mathrm{spend}`; per piece, a dynamic programme
over the energy used (deadline class, free class, release class, each a 0-1 knapsack with a
prefix limit) gives the best pattern :math:`\mathrm{best}_p(y)`.

**Bound** (valid for any :math:`y \ge 0`, so the LP solver's tolerances and the time limit cannot make
it invalid): by weak (Lagrangian) duality

.. math::
    z^* \le \sum_r \pi_r + \sum \mu\, \mathrm{cap} + \sum_k \lambda_k \beta_k
    + \sum_p \max(0, \mathrm{best}_p(y)),

floored; the smallest value over the iterations is kept.

**Solutions.**  *Diving* (:meth:`PatternLP.dive`): columns at 1 and the few fractional ones
with the largest values are fixed at 1 (when they fit beside those already fixed: no request
or piece twice, operator and lab rows and budgets kept), the fixed requests and pieces are
priced out and the fixed links forced into every budget choice, columns are generated again
for a few rounds, and so on until the LP is integral; a round where no fractional column fits
forbids them instead.  Its patterns are decoded into placements, the starts by CP-SAT
(:func:`solver.knapsack.decode_exact`); ruin and recreate takes it from there.  The dive is a
heuristic: it leaves the bound as it was (a restricted LP bounds nothing), a later
:meth:`PatternLP.solve` frees its fixings, and the integral value it reaches depends on which
optimal LP solutions the LP solver returns.
*Price and branch*: the 0-1 program over the generated patterns, every row above plus at most
one pattern per piece, solved with CP-SAT and hinted with the incumbent (far weaker than the
dive), decoded with :func:`solver.knapsack.decode_best`.

Measured figures (LP times, dives, bounds): ``bench/RESULTS.md``.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from .decompose import UnionFind, budget_keys
from .knapsack import PieceVar, decode_exact, piece_vars
from .problem import Placement, Problem, Request
from .static import Static
from .windows import merge

NEG = -1e30


@dataclass
class _Item:
    """A request inside one piece: energy and span (grid units from the piece start, the
    hull over its piece variables, one per operator alternative)."""
    energy: int
    lo: int                     # earliest blocked start
    hi: int                     # latest blocked end
    vars: list[int] = field(default_factory=list)  # indices into PatternLP.pvs


@dataclass
class _Piece:
    instrument: str
    lo: int
    hi: int
    length: int                 # grid units
    items: list[_Item] = field(default_factory=list)


def _hull_of(intervals: list[tuple[int, int]], starts: list[int], lo: int, hi: int) -> tuple[int, int, int] | None:
    """(start, end, covered) of the merged, sorted ``intervals`` (their ``starts``) meeting
    ``[lo, hi)``: their hull and the time they cover inside it."""
    k = max(0, bisect.bisect_right(starts, lo) - 1)
    a0 = b0 = None
    cov = 0
    while k < len(intervals) and intervals[k][0] < hi:
        a, b = intervals[k]
        if b > lo:
            a0 = a if a0 is None else a0
            b0 = b
            cov += b - a
        k += 1
    return None if a0 is None else (a0, b0, cov)


def _seq_dp(L: int, items: list[tuple[float, int, int, int]]):
    """0-1 knapsack over ``items`` (profit, energy, lim, key) in the given order with the
    prefix limit: an item may be taken only if the energy so far plus its own is <= lim.
    Returns the exact-total table and the snapshots for backtracking."""
    dp = [0.0] + [NEG] * L
    snaps = []
    for p, e, lim, _ in items:
        snaps.append(dp[:])
        for t in range(min(L, lim), e - 1, -1):
            v = dp[t - e] + p
            if v > dp[t]:
                dp[t] = v
    return dp, snaps


def _back(dp, snaps, items, t) -> list:
    out = []
    for k in range(len(items) - 1, -1, -1):
        after = dp if k == len(items) - 1 else snaps[k + 1]
        if after[t] > snaps[k][t]:
            out.append(items[k][3])
            t -= items[k][1]
    return out


def best_pattern(L: int, items: list[tuple[float, int, int, int, int]]) -> tuple[float, list]:
    """Exact best pattern of a piece of length ``L``: ``items`` are (profit, energy, cls, lim,
    key) with positive profit; returns (profit, keys)."""
    cls = [[], [], []]
    for p, e, c, lim, key in items:
        if e <= L and e <= lim:
            cls[c].append((p, e, lim, key))
    if not any(cls):
        return 0.0, []
    cls[1].sort(key=lambda it: it[2])
    cls[2].sort(key=lambda it: it[2])
    fdp, fs = _seq_dp(L, cls[0])
    pdp, ps = _seq_dp(L, cls[1])
    sdp, ss = _seq_dp(L, cls[2])
    fmax = fdp[:]
    farg = list(range(L + 1))
    for t in range(1, L + 1):
        if fmax[t - 1] > fmax[t]:
            fmax[t], farg[t] = fmax[t - 1], farg[t - 1]
    best, arg = 0.0, None
    for t1 in range(L + 1):
        if pdp[t1] <= NEG / 2:
            continue
        for t3 in range(L + 1 - t1):
            if sdp[t3] <= NEG / 2:
                continue
            v = pdp[t1] + sdp[t3] + fmax[L - t1 - t3]
            if v > best + 1e-12:
                best, arg = v, (t1, farg[L - t1 - t3], t3)
    if arg is None:
        return 0.0, []
    t1, t2, t3 = arg
    keys = _back(pdp, ps, cls[1], t1) + _back(fdp, fs, cls[0], t2) + _back(sdp, ss, cls[2], t3)
    return best, keys


def best_choice(options: list[list[tuple[float, tuple[int, ...], int]]], caps: list[int],
                node_limit: int = 2000) -> tuple[float, float, list[int]]:
    """Budget side of the decomposition: pick at most one option per request (``options[j]``:
    (value, spend per budget, key) with positive value) keeping every spend within ``caps``;
    maximise the value.  Depth-first branch and bound; returns (upper bound, best value, keys)
    where the upper bound equals the best value unless the node limit was reached: then SCIP
    solves the same choice (:func:`_mip_choice`; a search cut short can miss the best choice of
    a unit with several budgets and stall the LP short of its bound)."""
    items = sorted((sorted(o, reverse=True) for o in options if o), key=lambda o: -o[0][0])
    n = len(items)
    suffix = [0.0] * (n + 1)
    for j in range(n - 1, -1, -1):
        suffix[j] = suffix[j + 1] + items[j][0][0]
    best = [0.0, []]
    nodes = [0]
    left = list(caps)

    def dfs(j: int, value: float, chosen: list[int]):
        nodes[0] += 1
        if value > best[0] + 1e-12:
            best[0], best[1] = value, list(chosen)
        if j == n or value + suffix[j] <= best[0] + 1e-12 or nodes[0] > node_limit:
            return
        for v, spend, key in items[j]:
            if all(s <= c for s, c in zip(spend, left, strict=True)):
                for k, s in enumerate(spend):
                    left[k] -= s
                chosen.append(key)
                dfs(j + 1, value + v, chosen)
                chosen.pop()
                for k, s in enumerate(spend):
                    left[k] += s
        dfs(j + 1, value, chosen)

    dfs(0, 0.0, [])
    if nodes[0] <= node_limit:
        return best[0], best[0], best[1]
    mip = _mip_choice(items, caps)  # the search was cut short: SCIP on the same choice
    if mip is not None and mip[1] >= best[0]:
        return max(mip[0], mip[1]), mip[1], mip[2]
    upper = suffix[0] if mip is None else min(suffix[0], mip[0])
    return max(best[0], upper), best[0], best[1]


def joined_bound(parts: list[tuple[float, list[dict]]], budgets: dict[str, int]) -> int | None:
    r"""A bound of the union of disjoint request sets (components) that share budgets, from each
    one's pattern LP (one of :meth:`PatternLP.joint_parts` each: a Lagrangian bound and its
    units' terms, every shared key convexified in each).  Their duals joined are a dual point of
    the pattern relaxation of the union: its pieces and request rows are theirs, and its units
    are theirs joined where they share a key.  So by weak duality the union is bounded by

    .. math::
        \sum_C \mathrm{lb}_C - \sum_C \sum_{u \in C} t_u + \sum_U \max(0, \mathrm{best}_U),

    :math:`t_u` each unit's term and :math:`\mathrm{best}_U` the best budget-feasible choice
    (:func:`best_choice`, upper bound) of each joined unit over all its options, every budget of
    ``budgets`` counted once.  None without parts."""
    if not parts:
        return None
    uf = UnionFind()
    total = 0.0
    units = []
    for lb, terms in parts:
        total += lb
        for t in terms:
            total -= t["term"]
            for k in t["keys"][1:]:
                uf.union(t["keys"][0], k)
            units.append(t)
    joined: dict = {}
    for t in units:
        joined.setdefault(uf.find(t["keys"][0]), []).append(t)
    for group in joined.values():
        keys = sorted({k for t in group for k in t["keys"]})
        at = {k: n for n, k in enumerate(keys)}
        options = []
        for t in group:
            for opts in t["options"].values():
                row = []
                for n, (v, spend) in enumerate(opts):
                    full = [0] * len(keys)
                    for k, s in zip(t["keys"], spend, strict=True):
                        full[at[k]] = s
                    row.append((v, tuple(full), n))
                options.append(row)
        ub, _, _ = best_choice(options, [budgets[k] for k in keys])
        total += max(0.0, ub)
    return math.floor(total + 1e-6 * max(1.0, abs(total)))


def _mip_choice(items, caps: list[int], time_limit: float = 0.5) -> tuple[float, float, list[int]] | None:
    """:func:`best_choice` as a small 0-1 program with SCIP: (dual bound, value, keys), or None.
    A choice SCIP's tolerances let over a cap is dropped (value 0); the bound stays valid."""
    s = pywraplp.Solver.CreateSolver("SCIP")
    if s is None:
        return None
    s.SetSolverSpecificParametersAsString("limits/gap = 0\nlimits/absgap = 1e-6\n")
    s.SetTimeLimit(int(time_limit * 1000))
    per_request = [[(o, s.BoolVar("")) for o in opts] for opts in items]
    for row in per_request:
        s.Add(sum(x for _, x in row) <= 1)
    flat = [ox for row in per_request for ox in row]
    for k, cap in enumerate(caps):
        s.Add(sum(o[1][k] * x for o, x in flat if o[1][k]) <= cap)
    s.Maximize(sum(o[0] * x for o, x in flat))
    if s.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    chosen = [o for o, x in flat if x.solution_value() > 0.5]
    if any(sum(o[1][k] for o in chosen) > cap for k, cap in enumerate(caps)):
        chosen = []
    value = sum(o[0] for o in chosen)
    return s.Objective().BestBound() + 1e-9 * max(1.0, abs(value)), value, [o[2] for o in chosen]


class _Master:
    """The master LP of a :class:`PatternLP` on CLP (GLOP where CLP is missing): its rows, one
    variable per column so far, and the bounds of fixed / banned piece columns.  Kept between
    :meth:`PatternLP.solve` calls, so a dive's rounds add only their new columns instead of
    rebuilding it."""

    def __init__(self, lp: PatternLP):
        # CLP re-solves the growing master faster than GLOP (GLOP without presolve, so that it
        # warm-starts)
        s = self.s = pywraplp.Solver.CreateSolver("CLP")
        if s is None:
            s = self.s = pywraplp.Solver.CreateSolver("GLOP")
            s.SetSolverSpecificParametersAsString("use_preprocessing: false")
        self.lp = lp
        inf = self.inf = s.infinity()
        s.NumVar(0.0, 0.0, "")  # CLP crashes on a model without variables
        self.n_req = n_req = len(lp.requests)
        self.req_ct = [None if ri in lp.unit_of_req else s.Constraint(-inf, 1.0) for ri in range(n_req)]
        self.link_ct = [s.Constraint(-inf, 0.0) for _ in lp.link_key]
        self.piece_ct = [s.Constraint(-inf, 1.0) for _ in lp.pieces]
        self.unit_ct = [s.Constraint(-inf, 1.0) for _ in lp.units]
        self.row_ct = [s.Constraint(-inf, rhs) for rhs in lp.row_rhs]
        self.obj = s.Objective()
        self.obj.SetMaximization()
        self.xs = []        # one per column of lp.columns, in order
        self.n_units = 0    # variables of lp.unit_columns so far
        self.bounded: set[int] = set()

    def add_piece_var(self, col):
        lp, n_req = self.lp, self.n_req
        pn, vs = col
        x = self.s.NumVar(0.0, self.inf, "")
        self.xs.append(x)
        self.piece_ct[pn].SetCoefficient(x, 1.0)
        w = 0.0
        acc: dict[int, float] = {}
        for vi in vs:
            f = int(lp._first[vi])
            (self.req_ct[f] if f < n_req else self.link_ct[f - n_req]).SetCoefficient(x, 1.0)
            w += lp._w[vi]
            for rn, c in lp.var_rows[vi]:
                acc[rn] = acc.get(rn, 0.0) + c
        for rn, c in acc.items():
            self.row_ct[rn].SetCoefficient(x, c)
        self.obj.SetCoefficient(x, w)

    def add_unit_var(self, col):
        u, links = col
        x = self.s.NumVar(0.0, self.inf, "")
        self.unit_ct[u].SetCoefficient(x, 1.0)
        for ln in links:
            self.link_ct[ln].SetCoefficient(x, -1.0)
        self.n_units += 1

    def sync(self, fixed, banned) -> None:
        """Variables for the columns added since, and piece columns ``fixed`` at 1 and
        ``banned`` at 0 (every other one free again)."""
        for col in self.lp.columns[len(self.xs):]:
            self.add_piece_var(col)
        for col in self.lp.unit_columns[self.n_units:]:
            self.add_unit_var(col)
        for n in self.bounded - set(fixed) - set(banned):
            self.xs[n].SetBounds(0.0, self.inf)
        for n in fixed:
            self.xs[n].SetLb(1.0)
        for n in banned:
            self.xs[n].SetUb(0.0)
        self.bounded = set(fixed) | set(banned)


@dataclass
class _Unit:
    """Requests sharing binding budgets (an enterprise, or a controller group's members)."""
    keys: list[str]               # its binding budget keys
    caps: list[int]
    links: list[int] = field(default_factory=list)   # link rows (request, instrument) of the unit


class PatternLP:
    """Column generation for the pattern relaxation of ``requests`` (normally all of them),
    with the budgets convexified by units (see the module docstring)."""

    def __init__(self, problem: Problem, static: Static, requests: list[Request] | None = None,
                 binding: set[str] | None = None):
        """``binding``: budget keys to convexify by units even where ``requests`` alone cannot
        exceed them (a budget shared with other requests, for :meth:`joint_parts`)."""
        self.problem = problem
        self.static = static
        g = self.grid = static.grid
        self.requests = [r for r in (requests if requests is not None else problem.requests)
                         if static.alternatives(r)]
        self.req_index = {r.id: n for n, r in enumerate(self.requests)}
        self.pvs: list[PieceVar] = []
        self.var_piece: list[int] = []   # piece of each piece variable
        self.pieces: list[_Piece] = []
        piece_of: dict[tuple, int] = {}
        labs_binding = {}
        for lab in problem.labs:
            members = [i for i in problem.instruments if i.lab == lab.id]
            if lab.capacity < len(members):
                wins = merge([w for i in members for w in i.windows])
                labs_binding[lab.id] = (lab.capacity, wins, [a for a, _ in wins])
        op_windows = {}
        for o in problem.operators:
            wins = merge(o.windows)
            op_windows[o.id] = (wins, [a for a, _ in wins])
        # binding budgets over these requests, and the units they form
        self.budget_of: dict[str, int] = {}
        potential: dict[str, int] = {}
        for r in self.requests:
            most = max(a.spend for a in static.alternatives(r))
            for k, b in budget_keys(problem, r):
                self.budget_of[k] = b
                potential[k] = potential.get(k, 0) + most
        self.binding = {k for k, b in self.budget_of.items() if potential[k] > b or k in (binding or ())}
        uf = UnionFind()
        for r in self.requests:
            for k, _ in budget_keys(problem, r):
                if k in self.binding:
                    uf.union(("e", r.enterprise), k)
        self.units: list[_Unit] = []
        unit_of_root: dict = {}
        self.unit_of_req: dict[int, int] = {}
        for ri, r in enumerate(self.requests):
            ks = [k for k, _ in budget_keys(problem, r) if k in self.binding]
            if not ks:
                continue
            root = uf.find(("e", r.enterprise))
            u = unit_of_root.get(root)
            if u is None:
                u = unit_of_root[root] = len(self.units)
                self.units.append(_Unit([], []))
            unit = self.units[u]
            for k in ks:
                if k not in unit.keys:
                    unit.keys.append(k)
                    unit.caps.append(self.budget_of[k])
            self.unit_of_req[ri] = u
        # rows: requests outside units ("request"), (request, instrument) links of unit requests,
        # operator and lab windows ("row"); pieces and units have their own convexity rows
        self.link_index: dict[tuple[int, str], int] = {}
        self.link_spend: list[tuple[int, ...]] = []   # per link: spend per key of its unit
        self.link_key: list[tuple[int, str]] = []
        self.row_keys: list[tuple] = []
        self.row_rhs: list[float] = []
        row_index: dict[tuple, int] = {}
        var_rows: list[list[tuple[int, float]]] = []
        var_first: list[int] = []                     # request row, or n_requests + link row

        def row(key, rhs) -> int:
            n = row_index.get(key)
            if n is None:
                n = row_index[key] = len(self.row_keys)
                self.row_keys.append(key)
                self.row_rhs.append(float(rhs))
            return n

        n_req = len(self.requests)
        for ri, r in enumerate(self.requests):
            u = self.unit_of_req.get(ri)
            items_here: dict[int, _Item] = {}
            for pv in piece_vars(problem, static, r):
                ins = problem.instrument_by_id[pv.alt.instrument]
                a, b = pv.piece
                pk = (ins.id, a, b)
                pn = piece_of.get(pk)
                if pn is None:
                    pn = piece_of[pk] = len(self.pieces)
                    self.pieces.append(_Piece(ins.id, a, b, (b - a) // g))
                piece = self.pieces[pn]
                vi = len(self.pvs)
                self.pvs.append(pv)
                self.var_piece.append(pn)
                if u is None:
                    var_first.append(ri)
                else:
                    lk = (ri, ins.id)
                    ln = self.link_index.get(lk)
                    if ln is None:
                        ln = self.link_index[lk] = len(self.link_key)
                        self.link_key.append(lk)
                        keys = {k for k, _ in budget_keys(problem, r)}
                        self.link_spend.append(tuple(pv.alt.spend if k in keys else 0 for k in self.units[u].keys))
                        self.units[u].links.append(ln)
                    var_first.append(n_req + ln)
                coefs = []
                if pv.alt.operator is not None:
                    h = _hull_of(*op_windows[pv.alt.operator], pv.lo, pv.hi + r.duration)
                    if h is not None:
                        coefs.append((row(("operator", pv.alt.operator, h[0], h[1]), h[2]), r.duration))
                if ins.lab in labs_binding:
                    cap, wins, starts = labs_binding[ins.lab]
                    h = _hull_of(wins, starts, pv.lo, pv.hi + r.duration)
                    if h is not None:
                        coefs.append((row(("lab", ins.lab, h[0], h[1]), cap * h[2]), r.duration))
                var_rows.append(coefs)
                # the booking's class inside the piece (grid units)
                e = (ins.setup + r.duration + ins.cleanup) // g
                s_lo = (pv.lo - ins.setup - a) // g
                s_hi = -((-(pv.hi + r.duration + ins.cleanup - a)) // g)
                it = items_here.get(pn)
                if it is None:
                    it = items_here[pn] = _Item(e, s_lo, s_hi)
                    piece.items.append(it)
                else:
                    it.lo, it.hi = min(it.lo, s_lo), max(it.hi, s_hi)
                it.vars.append(vi)
        self.n_rows = len(self.row_keys)
        vv, rr, cc = [], [], []
        for vi, coefs in enumerate(var_rows):
            for rn, c in coefs:
                vv.append(vi)
                rr.append(rn)
                cc.append(c)
        self._cv = np.asarray(vv, dtype=np.int64)
        self._cr = np.asarray(rr, dtype=np.int64)
        self._cc = np.asarray(cc, dtype=np.float64)
        self._first = np.asarray(var_first, dtype=np.int64)
        self._w = np.asarray([pv.alt.request.weight for pv in self.pvs], dtype=np.float64)
        # the weight behind each request / link row (for clipping its dual)
        self._wmax = np.asarray([float(r.weight) for r in self.requests]
                                + [float(self.requests[ri].weight) for ri, _ in self.link_key])
        self.var_rows = var_rows
        self.columns: list[tuple[int, tuple[int, ...]]] = []   # (piece, piece-var indices)
        self.unit_columns: list[tuple[int, tuple[int, ...]]] = []  # (unit, link rows)
        self._seen_pieces: set = set()
        self._seen_units: set = set()
        self.bound: int | None = None
        self.lp_value: float | None = None
        self.column_values: list[float] = []  # x of each column in the last LP solution
        self.iterations = 0
        self.trivial = sum(r.weight for r in self.requests)
        self.best_lb: float | None = None   # the best Lagrangian bound, unfloored
        self.best_point = None              # its dual point (y, mu)
        self._blocked: np.ndarray | None = None    # diving: piece variables priced out
        self._forced: dict[int, list[int]] = {}     # diving: fixed link rows per unit
        self._master: _Master | None = None        # the master LP, kept between solves

    # -- columns -------------------------------------------------------------------------------
    @staticmethod
    def _add(store: list, seen: set, owner: int, members) -> bool:
        """Append the column (owner, sorted members) to ``store`` unless empty or in ``seen``."""
        col = (owner, tuple(sorted(members)))
        if col in seen or not col[1]:
            return False
        seen.add(col)
        store.append(col)
        return True

    def add_column(self, piece: int, var_ids) -> bool:
        return self._add(self.columns, self._seen_pieces, piece, var_ids)

    def add_unit_column(self, unit: int, links) -> bool:
        return self._add(self.unit_columns, self._seen_units, unit, links)

    def var_of(self, placements: dict[str, Placement]) -> dict[str, int]:
        """Piece variable of each placement (request id -> index)."""
        where: dict[tuple[str, str], list[int]] = {}
        for vi, pv in enumerate(self.pvs):
            where.setdefault((pv.alt.request.id, pv.alt.instrument), []).append(vi)
        out = {}
        for p in placements.values():
            for vi in where.get((p.request, p.instrument), []):
                pv = self.pvs[vi]
                if pv.alt.operator == p.operator and any(lo <= p.start < hi for lo, hi in pv.starts):
                    out[p.request] = vi
                    break
        return out

    def columns_of(self, placements: dict[str, Placement]) -> int:
        """Add the patterns of a feasible schedule (one per used piece and unit)."""
        by_piece: dict[int, list[int]] = {}
        by_unit: dict[int, list[int]] = {}
        for rid, vi in self.var_of(placements).items():
            pv = self.pvs[vi]
            by_piece.setdefault(self.var_piece[vi], []).append(vi)
            ri = self.req_index[rid]
            if ri in self.unit_of_req:
                by_unit.setdefault(self.unit_of_req[ri], []).append(self.link_index[(ri, pv.alt.instrument)])
        n = sum(self.add_column(pn, vs) for pn, vs in by_piece.items())
        return n + sum(self.add_unit_column(u, ls) for u, ls in by_unit.items())

    # -- pricing -------------------------------------------------------------------------------
    def profits(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Profit of every piece variable under request / link duals ``y`` and row duals ``mu``."""
        prof = self._w - y[self._first]
        if len(self._cv):
            prof -= np.bincount(self._cv, weights=self._cc * mu[self._cr], minlength=len(self.pvs))
        if self._blocked is not None:
            prof[self._blocked] = NEG
        return prof

    def price(self, prof: np.ndarray) -> list[tuple[float, list[int]]]:
        """Best pattern of every piece: (profit, piece-var indices)."""
        out = []
        for piece in self.pieces:
            items = []
            L = piece.length
            for it in piece.items:
                best_v, best_p = None, 0.0
                for vi in it.vars:
                    if prof[vi] > best_p:
                        best_v, best_p = vi, prof[vi]
                if best_v is not None:
                    if it.hi < L:      # deadline class (a release strictly inside is relaxed)
                        items.append((best_p, it.energy, 1, it.hi, best_v))
                    elif it.lo > 0:    # release class
                        items.append((best_p, it.energy, 2, L - it.lo, best_v))
                    else:
                        items.append((best_p, it.energy, 0, L, best_v))
            out.append(best_pattern(L, items) if items else (0.0, []))
        return out

    def price_units(self, gamma: np.ndarray) -> list[tuple[float, float, list[int]]]:
        """Best budget-feasible choice of every unit under link duals ``gamma``:
        (upper bound, value, link rows)."""
        out = []
        for u, unit in enumerate(self.units):
            forced = self._forced.get(u, ())
            caps = unit.caps
            if forced:   # diving: the fixed links are in every choice
                caps = [c - sum(self.link_spend[ln][k] for ln in forced) for k, c in enumerate(caps)]
                taken = {self.link_key[ln][0] for ln in forced}
            per_req: dict[int, list] = {}
            for ln in unit.links:
                v = gamma[ln]
                if v > 1e-9 and not (forced and self.link_key[ln][0] in taken):
                    per_req.setdefault(self.link_key[ln][0], []).append((float(v), self.link_spend[ln], ln))
            ub, val, ls = best_choice(list(per_req.values()), caps) if per_req else (0.0, 0.0, [])
            if forced:
                extra = float(sum(gamma[ln] for ln in forced))
                ub, val, ls = ub + extra, val + extra, list(ls) + list(forced)
            out.append((ub, val, ls))
        return out

    # -- the master LP -------------------------------------------------------------------------
    def solve(self, deadline: float, progress=None, smoothing: float = 0.6, fixed: frozenset = frozenset(),
              banned: frozenset = frozenset(), max_iterations: int | None = None) -> dict:
        """Column generation until no column prices out or ``deadline`` (perf_counter).  The
        bound (``self.bound``) is the best Lagrangian bound seen, floored, at most the trivial
        bound.  ``fixed`` / ``banned``: indices of piece columns held at 1 / at 0 (diving,
        :meth:`dive`); then the LP is a restricted problem's and the bound is left as it was."""
        m = self._master
        if m is None:  # built once, then kept: a dive's rounds only add columns and bounds
            m = self._master = _Master(self)
        m.sync(fixed, banned)
        s, xs, obj = m.s, m.xs, m.obj
        req_ct, link_ct, piece_ct, unit_ct, row_ct = m.req_ct, m.link_ct, m.piece_ct, m.unit_ct, m.row_ct
        n_req = len(self.requests)
        diving = bool(fixed or banned)
        if diving:
            smoothing = 0.0
        best = math.inf
        added = 0
        first_iteration = self.iterations
        center = None  # (y, mu) of the best Lagrangian bound: the stability centre
        # primal simplex: each added column keeps the last basis primal feasible, so it
        # re-solves from there (faster than CLP's default choice or the dual simplex)
        params = pywraplp.MPSolverParameters()
        params.SetIntegerParam(params.LP_ALGORITHM, params.PRIMAL)
        while True:
            st = s.Solve(params)
            if st not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
                break
            self.lp_value = obj.Value()
            self.column_values = [x.solution_value() for x in xs]
            y_lp = np.zeros(n_req + len(link_ct))
            for ri, c in enumerate(req_ct):
                if c is not None:
                    y_lp[ri] = max(0.0, c.dual_value())
            y_lp[n_req:] = [max(0.0, c.dual_value()) for c in link_ct]
            mu_lp = np.asarray([max(0.0, c.dual_value()) for c in row_ct]) if row_ct else np.zeros(0)
            sigma = np.asarray([max(0.0, c.dual_value()) for c in piece_ct])
            tau = np.asarray([max(0.0, c.dual_value()) for c in unit_ct])
            self.iterations += 1
            new = 0
            # Wentges smoothing: price at a point between the centre and the LP duals; every
            # priced point gives a valid bound; fall back to the LP duals when it finds nothing
            for alpha in ((smoothing, 0.0) if center is not None and smoothing > 0 else (0.0,)):
                if alpha > 0:
                    y = alpha * center[0] + (1 - alpha) * y_lp
                    mu = alpha * center[1] + (1 - alpha) * mu_lp
                else:
                    y, mu = y_lp, mu_lp
                # a dual above the request's weight only adds to the bound: clip it (no
                # pattern can use the request at such a price either way)
                y = np.minimum(y, self._wmax)
                lb, prof, priced, units = self.lagrangian(y, mu)
                if lb < best and not diving:
                    best, center = lb, (y, mu)
                    self.best_lb, self.best_point = lb, (y, mu)
                prof_lp = prof if alpha == 0 else self.profits(y_lp, mu_lp)
                gamma_lp = y_lp[n_req:]
                for pn, (_, vs) in enumerate(priced):
                    if vs and float(prof_lp[vs].sum()) - sigma[pn] > 1e-6 and self.add_column(pn, vs):
                        m.add_piece_var(self.columns[-1])
                        new += 1
                for u, (_, _, ls) in enumerate(units):
                    if ls and float(gamma_lp[ls].sum()) - tau[u] > 1e-6 and self.add_unit_column(u, ls):
                        m.add_unit_var(self.unit_columns[-1])
                        new += 1
                if new:
                    break
            added += new
            if progress:
                progress("patterns", {"iteration": self.iterations, "lp": self.lp_value, "bound": best,
                                      "columns": len(self.columns) + len(self.unit_columns)})
            if not new or time.perf_counter() >= deadline or best - self.lp_value < 0.999 or (
                    max_iterations is not None and self.iterations - first_iteration >= max_iterations):
                break
        if best < math.inf:
            self.bound = min(self.trivial, math.floor(best + 1e-6 * max(1.0, abs(best))))
        return {"iterations": self.iterations, "columns": len(self.columns),
                "unit_columns": len(self.unit_columns), "lp": self.lp_value, "bound": self.bound,
                "added": added, "units": len(self.units)}

    def dive(self, deadline: float, batch: float = 0.05, iterations: int = 10, progress=None,
             caps: dict[str, int] | None = None) -> list[PieceVar]:
        """Diving on the master LP (after :meth:`solve`) for a solution: fix at 1 every
        column at 1, and the ``batch`` share of the fractional ones with the largest values,
        that still fit beside those fixed (no request or piece twice, operator / lab rows and
        budgets kept); generate columns again for up to ``iterations`` rounds with the fixed
        requests and pieces priced out; repeat until every column with a positive value is
        fixed (the LP is integral) or ``deadline``.  A round in which no column fits forbids
        them all (held at 0) instead.
        Returns the final LP solution rounded (:meth:`rounded`; integral unless the deadline
        came first): a window assignment to decode.  The bound is not changed.  ``caps``:
        lower budgets for the dive (a component's share of a budget it shares with others; its
        key must be convexified, ``binding``)."""
        full = [list(unit.caps) for unit in self.units]
        fixed: set[int] = set()
        banned: set[int] = set()
        used_req: set[int] = set()
        used_piece: set[int] = set()
        row_use = [0.0] * self.n_rows
        left = [[min(c, (caps or {}).get(k, c)) for k, c in zip(unit.keys, unit.caps, strict=True)]
                for unit in self.units]
        self._forced = {}
        blocked = np.zeros(len(self.pvs), dtype=bool)
        req_of = np.asarray([self.req_index[pv.alt.request.id] for pv in self.pvs], dtype=np.int64)
        piece_of = np.asarray(self.var_piece, dtype=np.int64)
        n_req = len(self.requests)

        def fits(n: int) -> bool:
            pn, vs = self.columns[n]
            if pn in used_piece or any(int(req_of[vi]) in used_req for vi in vs):
                return False
            rows: dict[int, float] = {}
            spend: dict[int, list[int]] = {}
            for vi in vs:
                for rn, c in self.var_rows[vi]:
                    rows[rn] = rows.get(rn, 0.0) + c
                f = int(self._first[vi])
                if f >= n_req:
                    u = self.unit_of_req[int(req_of[vi])]
                    acc = spend.setdefault(u, [0] * len(left[u]))
                    for k, sp in enumerate(self.link_spend[f - n_req]):
                        acc[k] += sp
            if any(row_use[rn] + c > self.row_rhs[rn] + 1e-9 for rn, c in rows.items()):
                return False
            if any(a > c for u, acc in spend.items() for a, c in zip(acc, left[u], strict=True)):
                return False
            for rn, c in rows.items():
                row_use[rn] += c
            for u, acc in spend.items():
                left[u] = [c - a for a, c in zip(acc, left[u], strict=True)]
            used_piece.add(pn)
            for vi in vs:
                used_req.add(int(req_of[vi]))
                f = int(self._first[vi])
                if f >= n_req:
                    self._forced.setdefault(self.unit_of_req[int(req_of[vi])], []).append(f - n_req)
            fixed.add(n)
            return True

        try:
            for unit, c in zip(self.units, left, strict=True):   # the budget choices too
                unit.caps = list(c)
            while time.perf_counter() < deadline and self.column_values:
                free = sorted(((v, n) for n, v in enumerate(self.column_values) if n not in fixed and v > 1e-6),
                              key=lambda t: (-t[0], t[1]))
                if not free:
                    break
                n_frac = sum(1 for v, _ in free if v < 1 - 1e-6)
                quota = max(1, math.ceil(batch * n_frac))
                took = 0
                for v, n in free:
                    if v < 0.99 and quota <= 0:
                        break
                    if fits(n):
                        took += 1
                        if v < 0.99:
                            quota -= 1
                if not n_frac and took == len(free):
                    break   # integral, and all of it fits (with ``caps`` it may not)
                if not took:
                    # no column fits beside the fixed ones: forbid them, solve again
                    banned.update(n for _, n in free)
                blocked[:] = np.isin(req_of, list(used_req)) | np.isin(piece_of, list(used_piece))
                self._blocked = blocked
                for u, ls in self._forced.items():
                    self.add_unit_column(u, ls)
                before = self.iterations
                self.solve(deadline, fixed=frozenset(fixed), banned=frozenset(banned), max_iterations=iterations)
                if progress:
                    progress("dive", {"fixed": len(fixed), "fractional": n_frac, "lp": self.lp_value})
                if self.iterations == before:   # the restricted LP failed: keep what is fixed
                    break
        finally:
            self._blocked = None
            self._forced = {}
            for unit, c in zip(self.units, full, strict=True):
                unit.caps = c
        return self.rounded()

    def dived(self, end: float, share: float, caps: dict[str, int], fill: list[Request],
              seed: int = 0) -> dict[str, Placement]:
        """A schedule from this LP: :meth:`dive` within ``caps`` for ``share`` of the time left
        until ``end`` (perf_counter), decoded within ``caps`` with CP-SAT setting the starts
        (:func:`solver.knapsack.decode_exact`, at most min(2 s, a tenth of what is left)), then
        ``fill`` greedily."""
        now = time.perf_counter()
        chosen = self.dive(now + share * max(0.0, end - now), caps=caps)
        return decode_exact(self.problem, self.static, chosen, caps, fill,
                            time_limit=min(2.0, 0.1 * max(0.0, end - time.perf_counter())), seed=seed)

    def lagrangian(self, y: np.ndarray, mu: np.ndarray):
        """The Lagrangian bound at the dual point (``y`` on request and link rows, ``mu`` on
        operator and lab rows; see the module docstring), with the piece variables' profits and
        the best pattern of every piece and choice of every unit there."""
        n_req = len(self.requests)
        prof = self.profits(y, mu)
        priced = self.price(prof)
        units = self.price_units(y[n_req:])
        lb = (float(y[:n_req].sum() + (mu @ np.asarray(self.row_rhs) if len(mu) else 0.0))
              + sum(max(0.0, v) for v, _ in priced) + sum(max(0.0, ub) for ub, _, _ in units))
        return lb, prof, priced, units

    def joint_parts(self, thetas=(0.0, 0.25, 0.5, 1.0)) -> list[tuple[float, list[dict]]]:
        r"""For :func:`joined_bound`: per :math:`\theta`, the Lagrangian bound and the units'
        terms at the best dual point with each link dual moved to
        :math:`(1 - \theta)\,\gamma_\ell + \theta\, w_r` (any point is valid).  Where a shared
        budget does not bind inside one component its LP leaves the links' duals at zero and
        the value on the pieces, which joining cannot reduce; at :math:`\theta = 1` the value
        of the unit requests sits on the units, where the budget joined counts once.  Per
        unit: its keys, its term (:math:`\max(0, \cdot)` of its pricing upper bound) and each
        request's options (link dual, spend per key) with positive dual."""
        if self.best_point is None:
            return []
        n_req = len(self.requests)
        y0, mu = self.best_point
        out = []
        for theta in thetas:
            y = y0.copy()
            y[n_req:] = (1 - theta) * y0[n_req:] + theta * self._wmax[n_req:]
            # priced again even at theta = 0: each unit's term must be the one inside lb (a
            # unit's pricing may stop at a time limit with a different upper bound)
            lb, _, _, units = self.lagrangian(y, mu)
            terms = []
            for unit, (ub, _, _) in zip(self.units, units, strict=True):
                options: dict[str, list] = {}
                for ln in unit.links:
                    if y[n_req + ln] > 1e-9:
                        ri, _ = self.link_key[ln]
                        options.setdefault(self.requests[ri].id, []).append((float(y[n_req + ln]), self.link_spend[ln]))
                terms.append({"keys": list(unit.keys), "term": max(0.0, ub), "options": options})
            out.append((lb, terms))
        return out

    def rounded(self) -> list[PieceVar]:
        """The last LP solution rounded to a window assignment: each request it covers (in
        any column with :math:`x > 0`) on the piece variable covering it most (the sum of
        :math:`x` over the columns that hold it): a window assignment to decode
        (:func:`solver.knapsack.decode_best`), and what :meth:`dive` returns once its LP is
        integral."""
        cover: dict[int, float] = {}
        for (_, vs), v in zip(self.columns, self.column_values, strict=False):
            if v > 1e-9:
                for vi in vs:
                    cover[vi] = cover.get(vi, 0.0) + v
        best: dict[str, int] = {}
        for vi, c in cover.items():
            rid = self.pvs[vi].alt.request.id
            if rid not in best or (c, -vi) > (cover[best[rid]], -best[rid]):
                best[rid] = vi
        return [self.pvs[vi] for vi in sorted(best.values())]

    # -- price and branch ----------------------------------------------------------------------
    def solve_integer(self, time_limit: float, hint: dict[str, Placement] | None = None,
                      workers: int = 2, seed: int = 0, upper_bound: int | None = None,
                      caps: dict[str, int] | None = None) -> dict:
        """The 0-1 program over the generated piece patterns (CP-SAT): at most one pattern per
        piece, each request at most once, operator / lab rows, every budget exact (``caps``,
        default the full budgets).  Returns the chosen piece variables (to decode)."""
        caps = self.budget_of if caps is None else caps
        m = cp_model.CpModel()
        xs = [m.new_bool_var("") for _ in self.columns]
        by_piece: dict[int, list] = {}
        by_req: dict[int, list] = {}
        by_row: dict[int, list] = {}
        by_key: dict[str, list] = {}
        obj = []
        for x, (pn, vs) in zip(xs, self.columns, strict=True):
            by_piece.setdefault(pn, []).append(x)
            w = 0
            acc: dict[int, int] = {}
            spend: dict[str, int] = {}
            for vi in vs:
                pv = self.pvs[vi]
                r = pv.alt.request
                by_req.setdefault(self.req_index[r.id], []).append(x)
                w += r.weight
                for rn, c in self.var_rows[vi]:
                    acc[rn] = acc.get(rn, 0) + int(c)
                if pv.alt.spend:
                    for k, _ in budget_keys(self.problem, r):
                        if k in caps:
                            spend[k] = spend.get(k, 0) + pv.alt.spend
            for rn, c in acc.items():
                by_row.setdefault(rn, []).append((c, x))
            for k, c in spend.items():
                by_key.setdefault(k, []).append((c, x))
            obj.append((w, x))
        for group in (by_piece, by_req):
            for lits in group.values():
                if len(lits) > 1:
                    m.add_at_most_one(lits)
        for terms, rhs in [(t, self.row_rhs[rn]) for rn, t in by_row.items()] + \
                          [(t, caps[k]) for k, t in by_key.items()]:
            if sum(c for c, _ in terms) > rhs:
                m.add(cp_model.LinearExpr.weighted_sum([x for _, x in terms], [c for c, _ in terms]) <= int(rhs))
        expr = cp_model.LinearExpr.weighted_sum([x for _, x in obj], [w for w, _ in obj])
        if upper_bound is not None:
            m.add(expr <= upper_bound)
        m.maximize(expr)
        if hint:
            want: dict[int, set] = {}
            for vi in self.var_of(hint).values():
                want.setdefault(self.var_piece[vi], set()).add(vi)
            hinted = set()
            for n, (pn, vs) in enumerate(self.columns):
                on = pn in want and pn not in hinted and set(vs) == want[pn]
                if on:
                    hinted.add(pn)
                m.add_hint(xs[n], on)
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(0.05, time_limit)
        p.num_workers = workers
        p.random_seed = seed
        st = solver.solve(m)
        out = {"status": solver.status_name(st), "columns": len(self.columns)}
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            out["objective"] = int(round(solver.objective_value))
            out["chosen"] = [self.pvs[vi] for x, (_, vs) in zip(xs, self.columns, strict=True) if solver.boolean_value(x)
                             for vi in vs]
        return out
