r"""Window-assignment (energetic multiple-knapsack) relaxation of a component.

Every booking lies, with its buffers, inside one free *piece* :math:`p` of one window of its
instrument (windows minus merged busy time).  For an alternative :math:`a = (r, i, o)` and a
piece :math:`p` of :math:`i` let

.. math::
    T_{a,p} = \{ s \in T_a : [s - S_i, s + d_r + C_i) \subseteq p \}

(the start set of :mod:`solver.static` restricted to the piece, on the grid); the pair
:math:`v = (a, p)` is kept when :math:`T_{a,p} \neq \emptyset`.  Whatever start in
:math:`T_{a,p}` is chosen, the blocked interval lies in the *span*
:math:`[\underline{e}_v, \overline{e}_v) = [\min T_{a,p} - S_i,\ \max T_{a,p} + d_r + C_i)` and the
booking itself in :math:`[\min T_{a,p},\ \max T_{a,p} + d_r)`.

Variables :math:`z_v \in \{0, 1\}`.  For a resource :math:`q` (an instrument with energy
:math:`e_v = S_i + d_r + C_i` over blocked spans, an operator with :math:`e_v = d_r` over
booking spans, a binding lab with :math:`e_v = d_r` and capacity :math:`c_\ell`, otherwise
capacity 1) and an interval :math:`[\alpha, \beta)` from a finite family :math:`\mathcal{I}_q`:

.. math::
    \max \sum_v w_{r(v)} z_v \quad \text{s.t.} \quad
    \sum_{v \ni r} z_v \le 1 \ \forall r, \qquad
    \sum_{v \text{ on } q,\ \mathrm{span}_v \subseteq [\alpha, \beta)} e_v z_v \le c_q (\beta - \alpha)
    \ \forall q, [\alpha, \beta) \in \mathcal{I}_q, \qquad
    \sum_{v \in k} \mathrm{spend}_v z_v \le \beta_k \ \forall k.

Validity: map a feasible schedule to :math:`z` by setting :math:`z_{(a,p)} = 1` for its chosen
alternative and a piece containing the blocked interval (one exists, and the start lies in
:math:`T_{a,p}`).  Bookings on a unary resource that lie inside :math:`[\alpha,\beta)` are
disjoint, so their energies sum to at most :math:`\beta - \alpha` (at most :math:`c_\ell(\beta -
\alpha)` for a lab, where at most :math:`c_\ell` run at any time); budget rows hold as in the
schedule.  So every schedule gives a feasible :math:`z` of the same weight, and any valid upper
bound of this 0-1 program bounds the component, provided the budgets :math:`\beta_k` are the
*full* budgets (``lp_caps``; with a budget split between components the model used for
solutions carries the residual caps instead, and only its LP bound with ``bound_caps`` = full
budgets, or SCIP's bound, which always uses them, is used as a bound).
The family :math:`\mathcal{I}_q`: the intervals :math:`[\alpha, \beta)` within ``max_len``
minutes where :math:`\alpha` is the smallest span start and :math:`\beta` the largest span end of
the variables inside (any other interval with the same variables has a larger right-hand
side), and whose energies exceed the right-hand side (each row is valid by itself, so any
family gives a valid bound).

Cardinality cuts (for the LP and SCIP only): for a binding budget :math:`k`, at most
:math:`n_k` of its requests are funded, :math:`n_k` the most whose cheapest positive spends fit
in :math:`\beta_k` together (:func:`max_funded`): :math:`\sum_{v \in k} z_v \le n_k`.  Any funded
set spends at least the sum of its members' cheapest spends, so the cut holds for every 0-1
point; with weights that vary less than spends (as here) it removes the LP's fractional last
request of each budget (its effect on the bounds: ``bench/RESULTS.md``).

Rounded rows (for the LP and SCIP only): with all times multiples of the grid :math:`g`, for
:math:`2 \le s \le` ``max_divisor``,
:math:`\sum_v \lfloor e_v / (s g) \rfloor z_v \le \lfloor c_q(\beta - \alpha) / (s g) \rfloor`
(Chvatal-Gomory: valid for 0-1 :math:`z`).

Bounds used: CP-SAT's ``best_objective_bound`` (full budgets only), SCIP's dual bound, and the
*safe* LP bound :func:`safe_lp_bound` (any dual :math:`y \ge 0` gives
:math:`b^\top y + \sum_j \max(0, w_j - (A^\top y)_j)`), all floored.  :func:`coupled_bound`
joins all components' LPs with each shared budget counted once (see there).

The relaxation is exact on a piece whose variables all share one span (no release or deadline
inside it: left-packing any subset of total energy :math:`\le |p|` is feasible); it relaxes
sequencing inside a piece (it is the preemptive relaxation there) and the time coupling of
operators and labs across instruments.  :func:`decode` turns an assignment into placements
greedily (earliest free start inside the assigned piece, earliest latest-start first, or in
decreasing LP value for LP-guided rounding); requests that do not fit their piece get their
earliest feasible start elsewhere if any, so decoded placements are feasible (and are checked
anyway by the pipeline).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .problem import Placement, Problem, Request
from .schedule import Schedule
from .static import Alternative, Static
from .windows import first_on_grid, intersect, to_grid


@dataclass
class PieceVar:
    alt: Alternative
    piece: tuple[int, int]
    starts: list[tuple[int, int]]  # minutes, half-open, restricted to the piece
    lo: int   # earliest start
    hi: int   # latest start


def piece_vars(problem: Problem, static: Static, r: Request) -> list[PieceVar]:
    g = static.grid
    out = []
    for alt in static.alternatives(r):
        ins = problem.instrument_by_id[alt.instrument]
        pieces = static.pieces(alt.instrument)
        lo_t = alt.starts[0][0] - ins.setup
        hi_t = alt.starts[-1][1] + r.duration + ins.cleanup
        for a, b in pieces:
            if b <= lo_t or a >= hi_t:
                continue
            c0, c1 = a + ins.setup, b - r.duration - ins.cleanup + 1
            st = [(max(lo, c0), min(hi, c1)) for lo, hi in alt.starts if lo < c1 and hi > c0]
            gr = to_grid(st, g)
            if not gr:
                continue
            out.append(PieceVar(alt, (a, b), st, gr[0][0] * g, (gr[-1][1] - 1) * g))
    return out


def _energetic_rows(items, cap: int, max_len: int):
    """items: (var, span_lo, span_hi, energy).  Yields (vars, energies, rhs) for the intervals
    [a, b) with a = the smallest span start and b = the largest span end of the variables
    inside (any other interval with the same variables has a larger right-hand side), when
    the row is not implied by the total energy."""
    if not items:
        return
    by_lo = sorted(items, key=lambda it: it[1])
    los = [it[1] for it in by_lo]
    for a in sorted(set(los)):
        k0 = bisect.bisect_left(los, a)
        k1 = bisect.bisect_left(los, a + max_len)
        inside = sorted(by_lo[k0:k1], key=lambda it: it[2])
        tot = 0
        min_lo = None
        n = 0
        while n < len(inside):
            b = inside[n][2]
            if b - a > max_len:
                break
            while n < len(inside) and inside[n][2] == b:
                tot += inside[n][3]
                min_lo = inside[n][1] if min_lo is None else min(min_lo, inside[n][1])
                n += 1
            if min_lo == a and tot > cap * (b - a):
                sel = inside[:n]
                yield [it[0] for it in sel], [it[3] for it in sel], cap * (b - a)


def _cardinality_rows(variables, terms, cap: int):
    """Cardinality cut of one budget: the requests spending from it number at most
    :math:`k`, the most whose cheapest positive spends fit in the budget together (any
    funded set spends at least the sum of its members' cheapest spends).  Valid for 0-1
    :math:`z`; it cuts the LP's fractional last request where weights vary less than spends."""
    idx, spends = terms
    cheapest: dict[str, int] = {}
    for j, sp in zip(idx, spends, strict=True):
        rid = variables[j][0].alt.request.id
        cheapest[rid] = min(sp, cheapest.get(rid, sp))
    k = max_funded(list(cheapest.values()), cap)
    if k < len(cheapest):
        return [(list(idx), [1] * len(idx), k)]
    return []


def max_funded(cheapest: list[int], cap: int) -> int:
    """The most requests with these cheapest spends that a budget ``cap`` can fund together."""
    k, total = 0, 0
    for sp in sorted(cheapest):
        if total + sp > cap:
            break
        total += sp
        k += 1
    return k


def _rounded_rows(es, rhs, unit, max_divisor):
    """Chvatal-Gomory roundings of ``sum e_v z_v <= rhs`` (all multiples of ``unit``): for an
    integer ``s >= 2``, ``sum floor(e_v / (s unit)) z_v <= floor(rhs / (s unit))`` (valid for 0-1
    ``z``: the left side is an integer at most ``rhs / (s unit)``).  Only roundings that can cut
    off a fractional point and differ from each other are returned."""
    seen = set()
    for s in range(2, max_divisor + 1):
        q = s * unit
        r = rhs // q
        if rhs % q == 0 and all(e % q == 0 for e in es):
            continue
        cs = tuple(e // q for e in es)
        if sum(cs) <= r or cs in seen:
            continue
        # skip if implied by the row itself: max over z of sum cs z with sum e z <= rhs ... cheap test
        if all(c * q == e for c, e in zip(cs, es, strict=True)):
            continue
        seen.add(cs)
        yield list(cs), r


class KnapsackModel:
    """The 0-1 program of the module docstring, built with CP-SAT."""

    def __init__(self, problem: Problem, static: Static, requests: list[Request],
                 caps: dict[str, int], max_len: int = 1440, max_divisor: int = 0,
                 bound_caps: dict[str, int] | None = None):
        self.problem = problem
        self.static = static
        m = self.model = cp_model.CpModel()
        self.vars: list[tuple[PieceVar, cp_model.IntVar]] = []
        inst_items: dict[str, list] = {}
        op_items: dict[str, list] = {}
        lab_items: dict[str, list] = {}
        key_terms: dict[str, list] = {}
        labs_binding = {}
        for lab in problem.labs:
            n = sum(1 for i in problem.instruments if i.lab == lab.id)
            if lab.capacity < n:
                labs_binding[lab.id] = lab.capacity
        obj = []
        index: dict = {}
        self.rows: list[tuple[list[int], list[int], int]] = []  # (variable indices, coefficients, rhs)
        self.cg_rows: list[tuple[list[int], list[int], int]] = []  # roundings, for the LP and MIP only
        self.card_rows: list[tuple[list[int], list[int], int]] = []  # cardinality cuts, likewise
        for r in requests:
            lits = []
            keys = [k for k in (f"enterprise:{r.enterprise}", f"group:{problem.group_of(r.enterprise)}")
                    if k in caps]
            for pv in piece_vars(problem, static, r):
                ins = problem.instrument_by_id[pv.alt.instrument]
                z = m.new_bool_var("")
                index[z.index] = len(self.vars)
                self.vars.append((pv, z))
                lits.append(z)
                obj.append((r.weight, z))
                inst_items.setdefault(ins.id, []).append(
                    (z, pv.lo - ins.setup, pv.hi + r.duration + ins.cleanup, ins.setup + r.duration + ins.cleanup))
                if pv.alt.operator is not None:
                    op_items.setdefault(pv.alt.operator, []).append((z, pv.lo, pv.hi + r.duration, r.duration))
                if ins.lab in labs_binding:
                    lab_items.setdefault(ins.lab, []).append((z, pv.lo, pv.hi + r.duration, r.duration))
                if pv.alt.spend > 0:
                    for k in keys:
                        key_terms.setdefault(k, []).append((pv.alt.spend, z))
            if len(lits) > 1:
                m.add_at_most_one(lits)
                self.rows.append(([index[z.index] for z in lits], [1] * len(lits), 1))
        nrows = 0
        for items, capf in ((inst_items, lambda q: 1), (op_items, lambda q: 1),
                            (lab_items, lambda q: labs_binding[q])):
            for q, its in items.items():
                for vs, es, rhs in _energetic_rows(its, capf(q), max_len):
                    m.add(cp_model.LinearExpr.weighted_sum(vs, es) <= rhs)
                    self.rows.append(([index[v.index] for v in vs], list(es), rhs))
                    nrows += 1
                    for cs, rs in _rounded_rows(es, rhs, static.grid, max_divisor):
                        keep = [(v, c) for v, c in zip(vs, cs, strict=True) if c]
                        self.cg_rows.append(([index[v.index] for v, _ in keep], [c for _, c in keep], rs))
        bound_caps = caps if bound_caps is None else bound_caps
        self.budget_rows = []  # with the bound's budgets, for lp_bound
        self.budget_terms: dict[str, tuple[list[int], list[int]]] = {}
        for k, terms in key_terms.items():
            if sum(s for s, _ in terms) > caps[k]:
                m.add(cp_model.LinearExpr.weighted_sum([z for _, z in terms], [s for s, _ in terms]) <= caps[k])
                nrows += 1
            self.budget_terms[k] = ([index[z.index] for _, z in terms], [s for s, _ in terms])
            if sum(s for s, _ in terms) > bound_caps[k]:
                self.budget_rows.append(([index[z.index] for _, z in terms], [s for s, _ in terms], bound_caps[k]))
                self.card_rows.extend(_cardinality_rows(self.vars, self.budget_terms[k], bound_caps[k]))
        self.nrows = nrows
        self.weight_expr = cp_model.LinearExpr.weighted_sum([z for _, z in obj], [w for w, _ in obj])
        self.trivial = sum(w for w, _ in obj)
        m.maximize(self.weight_expr)

    @staticmethod
    def _hinted(pv: PieceVar, placements: dict[str, Placement]) -> bool:
        p = placements.get(pv.alt.request.id)
        return (p is not None and p.instrument == pv.alt.instrument and p.operator == pv.alt.operator
                and any(lo <= p.start < hi for lo, hi in pv.starts))

    def set_hint(self, placements: dict[str, Placement]):
        m = self.model
        m.clear_hints()
        for pv, z in self.vars:
            m.add_hint(z, self._hinted(pv, placements))

    def solve(self, time_limit: float, workers: int = 2, seed: int = 0, hint=None,
              deterministic_time: float | None = None) -> dict:
        t0 = time.perf_counter()
        if hint:
            self.set_hint(hint)
        s = cp_model.CpSolver()
        p = s.parameters
        p.max_time_in_seconds = max(0.05, float(time_limit))
        p.num_workers = int(workers)
        p.random_seed = int(seed)
        if deterministic_time is not None:
            p.max_deterministic_time = float(deterministic_time)
        st = s.solve(self.model)
        out = {"status": s.status_name(st), "time": time.perf_counter() - t0, "rows": self.nrows,
               "vars": len(self.vars)}
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            out["bound"] = min(self.trivial, int(s.best_objective_bound + 1e-6))
            out["objective"] = int(round(s.objective_value))
            out["chosen"] = [pv for pv, z in self.vars if s.boolean_value(z)]
        elif st == cp_model.INFEASIBLE:  # cannot happen (z = 0 is feasible); be safe
            out["bound"] = None
        return out


    def lp_bound(self, time_limit: float = 10.0) -> int | None:
        """Safe bound (:func:`safe_lp_bound`) of the LP relaxation: rows, rounded rows, budgets
        ``bound_caps``."""
        if not self.vars:
            return 0
        w = [float(pv.alt.request.weight) for pv, _ in self.vars]
        self.lp_values = []
        b = safe_lp_bound(self.rows + self.cg_rows + self.card_rows + self.budget_rows, w, time_limit,
                          primal=self.lp_values)
        return None if b is None else min(self.trivial, b)

    def lp_order(self) -> list[PieceVar]:
        """Variables by decreasing LP value (after :meth:`lp_bound`), then weight per hour: the
        order for an LP-guided :func:`decode`."""
        vals = getattr(self, "lp_values", None) or [0.0] * len(self.vars)
        order = sorted(range(len(self.vars)), key=lambda j: (
            -round(vals[j], 6), -self.vars[j][0].alt.request.weight / max(1, self.vars[j][0].alt.request.duration), j))
        return [self.vars[j][0] for j in order if vals[j] > 1e-6]

    def relaxation_data(self) -> dict:
        """What :func:`coupled_bound` needs (plain lists; the CP-SAT model can be dropped)."""
        return {"rows": self.rows + self.cg_rows + self.card_rows, "budget_terms": self.budget_terms,
                "weights": [pv.alt.request.weight for pv, _ in self.vars]}

    def solve_mip(self, time_limit: float, hint: dict[str, Placement] | None = None,
                  cuts: bool = True) -> dict:
        """The same 0-1 program plus the rounded rows (and, with ``cuts``, the cardinality
        cuts), with SCIP (deterministic); the bound is SCIP's dual bound, floored."""
        from ortools.linear_solver import pywraplp
        t0 = time.perf_counter()
        s = pywraplp.Solver.CreateSolver("SCIP")
        out = {"status": "UNKNOWN", "rows": len(self.rows) + len(self.cg_rows), "vars": len(self.vars),
               "solver": "scip"}
        if s is None:
            return out
        s.SetSolverSpecificParametersAsString("limits/gap = 0\nlimits/absgap = 0.5\nlp/threads = 1\n")
        xs = [s.BoolVar("") for _ in self.vars]
        for vs, cs, rhs in self.rows + self.cg_rows + (self.card_rows if cuts else []) + self.budget_rows:
            ct = s.Constraint(-s.infinity(), float(rhs))
            for v, c in zip(vs, cs, strict=True):
                ct.SetCoefficient(xs[v], float(c))
        obj = s.Objective()
        for (pv, _), x in zip(self.vars, xs, strict=True):
            obj.SetCoefficient(x, float(pv.alt.request.weight))
        obj.SetMaximization()
        if hint:
            on = [self._hinted(pv, hint) for pv, _ in self.vars]
            s.SetHint(xs, [1.0 if v else 0.0 for v in on])
        s.SetTimeLimit(int(max(0.05, time_limit) * 1000))
        st = s.Solve()
        out["time"] = time.perf_counter() - t0
        if st in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            out["status"] = "OPTIMAL" if st == pywraplp.Solver.OPTIMAL else "FEASIBLE"
            out["bound"] = min(self.trivial, int(obj.BestBound() + 1e-6))
            out["objective"] = int(round(obj.Value()))
            out["chosen"] = [pv for (pv, _), x in zip(self.vars, xs, strict=True) if x.solution_value() > 0.5]
        return out


def safe_lp_bound(rows, weights, time_limit: float = 10.0, primal: list | None = None,
                  deadline: float | None = None) -> int | None:
    r"""Upper bound of :math:`\max \{w^\top z : A z \le b,\ 0 \le z \le 1\}` (rows ``(indices,
    coefficients, b)``, :math:`A \ge 0`) from GLOP's duals: for any :math:`y \ge 0`,
    :math:`b^\top y + \sum_j \max(0, w_j - (A^\top y)_j)` bounds the LP (weak duality with the
    box :math:`z \le 1`), so tolerances or a time limit cannot make it invalid.  Floored (the
    weights are integers); None if GLOP returned no duals.  ``deadline`` (perf_counter) also
    caps GLOP's time once the model is built."""
    import math

    import numpy as np
    from ortools.linear_solver import linear_solver_pb2 as lp
    from ortools.linear_solver import pywraplp
    n = len(weights)
    if n == 0:
        return 0
    req = lp.MPModelRequest()
    req.solver_type = lp.MPModelRequest.GLOP_LINEAR_PROGRAMMING
    req.solver_time_limit_seconds = max(0.1, float(time_limit))
    m = req.model
    m.maximize = True
    c = np.asarray(weights, dtype=np.float64)
    for w in c:
        m.variable.add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=float(w))
    for vs, cs, rhs in rows:
        ct = m.constraint.add(lower_bound=-math.inf, upper_bound=float(rhs))
        ct.var_index.extend(vs)
        ct.coefficient.extend([float(x) for x in cs])
    if deadline is not None:
        req.solver_time_limit_seconds = max(0.1, min(float(time_limit), deadline - time.perf_counter()))
    resp = lp.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(req, resp)  # releases the GIL while GLOP runs
    if primal is not None and len(resp.variable_value) == n:
        primal.extend(resp.variable_value)
    if len(resp.dual_value) != len(rows):
        return None
    y = np.maximum(np.asarray(resp.dual_value, dtype=np.float64), 0.0)
    ri = np.fromiter((k for k, (vs, _, _) in enumerate(rows) for _ in vs), dtype=np.int64)
    vi = np.fromiter((v for vs, _, _ in rows for v in vs), dtype=np.int64)
    co = np.fromiter((x for _, cs, _ in rows for x in cs), dtype=np.float64)
    aty = np.bincount(vi, weights=y[ri] * co, minlength=n)
    b = np.asarray([float(r[2]) for r in rows])
    safe = float(b @ y + np.maximum(c - aty, 0.0).sum())
    return math.floor(safe + 1e-6 * max(1.0, abs(safe)))


def coupled_bound(parts: list[tuple[dict | None, int]], budgets: dict[str, int],
                  time_limit: float = 10.0, deadline: float | None = None) -> int | None:
    r"""Bound of the whole problem from the components' relaxations, coupled by the budgets.

    ``parts``: per component, its :meth:`KnapsackModel.relaxation_data` (or None) and a valid
    bound :math:`U_c` of its weight.  The LP joins the components' rows, one budget row per key
    over *all* included components (with the full budget), and a cap
    :math:`\sum_{v \in c} w_v z_v \le U_c` per component; components without data add
    :math:`U_c`.  Every schedule of the problem gives a feasible point (per component as in the
    module docstring; the budget rows hold globally; the caps hold as :math:`U_c` are valid), so
    this is a valid bound, at most :math:`\sum_c U_c` plus rounding."""
    rows: list = []
    weights: list[int] = []
    terms: dict[str, tuple[list[int], list[int]]] = {}
    const = 0
    for data, ub in parts:
        if data is None:
            const += ub
            continue
        off = len(weights)
        n = len(data["weights"])
        weights.extend(data["weights"])
        rows.extend(([off + v for v in vs], cs, rhs) for vs, cs, rhs in data["rows"])
        rows.append((list(range(off, off + n)), data["weights"], ub))
        for k, (vs, cs) in data["budget_terms"].items():
            t = terms.setdefault(k, ([], []))
            t[0].extend(off + v for v in vs)
            t[1].extend(cs)
    for k, (vs, cs) in terms.items():
        if k in budgets and sum(cs) > budgets[k]:
            rows.append((vs, cs, budgets[k]))
    b = safe_lp_bound(rows, weights, time_limit, deadline=deadline)
    return None if b is None else const + b


def _by_rate(requests: list[Request]) -> list[Request]:
    """By decreasing weight per hour (ties by id): the order in which decoding fills."""
    return sorted(requests, key=lambda r: (-r.weight / max(1, r.duration), r.id))


def decode(problem: Problem, static: Static, chosen: list[PieceVar],
           caps: dict[str, int] | None = None, fill: list[Request] | None = None,
           keep_order: bool = False) -> dict[str, Placement]:
    """Placements from an assignment: pieces in time order, inside a piece earliest latest-start
    first, each at the earliest free grid start inside its piece (instrument, operator and lab
    occupancy of the placements made so far); spends on the keys of ``caps`` stay within them.
    With ``keep_order`` the given order is used instead (LP-guided rounding: later variables of
    a request already placed are skipped).  Requests that do not fit their piece, then those of
    ``fill``, go to their earliest feasible
    start anywhere, if any; the result is feasible for the component."""
    sched = Schedule(problem, static)
    caps = caps or {}
    spent = dict.fromkeys(caps, 0)
    g = static.grid
    order = list(chosen) if keep_order else sorted(chosen, key=lambda pv: (pv.piece[0], pv.hi, pv.lo, pv.alt.request.id))
    out = {}
    for pv in order:
        r = pv.alt.request
        if r.id in sched.placed:
            continue
        keys = [k for k in (f"enterprise:{r.enterprise}", f"group:{problem.group_of(r.enterprise)}") if k in caps]
        if any(spent[k] + pv.alt.spend > caps[k] for k in keys):
            continue
        free = sched.free_starts(pv.alt, use_instrument=True, use_operator=True, use_lab=True)
        s = first_on_grid(intersect(free, pv.starts), g)
        if s is None:
            continue
        p = Placement(r.id, pv.alt.instrument, s, pv.alt.operator)
        sched.add(p)
        for k in keys:
            spent[k] += pv.alt.spend
        out[r.id] = p
    # requests that did not fit their piece, then the others (by weight per hour): earliest
    # feasible start anywhere
    missed = [pv.alt.request for pv in order if pv.alt.request.id not in out]
    rest = _by_rate(fill or [])
    tried = set()
    for r in missed + rest:
        if r.id in out or r.id in tried:
            continue
        tried.add(r.id)
        keys = [k for k in (f"enterprise:{r.enterprise}", f"group:{problem.group_of(r.enterprise)}") if k in caps]
        best = None
        for alt in static.alternatives(r):
            if any(spent[k] + alt.spend > caps[k] for k in keys):
                continue
            s = first_on_grid(sched.free_starts(alt), g)
            if s is not None and (best is None or s < best[0]):
                best = (s, alt)
        if best is not None:
            s, alt = best
            p = Placement(r.id, alt.instrument, s, alt.operator)
            sched.add(p)
            for k in keys:
                spent[k] += alt.spend
            out[r.id] = p
    return out


_ORDERS = (
    lambda pv: (pv.piece[0], pv.hi, pv.lo, pv.alt.request.id),
    lambda pv: (pv.piece[0], pv.alt.operator is None, pv.hi, pv.lo, pv.alt.request.id),
    lambda pv: (pv.piece[0], pv.lo, pv.hi, pv.alt.request.id),
    lambda pv: (pv.piece[0], -pv.alt.request.duration, pv.hi, pv.alt.request.id),
)


def decode_best(problem: Problem, static: Static, chosen: list[PieceVar],
                caps: dict[str, int] | None = None, fill: list[Request] | None = None) -> dict[str, Placement]:
    """The best of :func:`decode` over a few orders inside the pieces (latest start first,
    operator-run first, earliest start first, longest first)."""
    best, best_w = {}, -1
    for key in _ORDERS:
        out = decode(problem, static, sorted(chosen, key=key), caps=caps, fill=fill, keep_order=True)
        w = sum(problem.request_by_id[k].weight for k in out)
        if w > best_w:
            best, best_w = out, w
    return best


def decode_exact(problem: Problem, static: Static, chosen: list[PieceVar], caps: dict[str, int],
                 fill: list[Request], time_limit: float = 2.0, seed: int = 0) -> dict[str, Placement]:
    """Placements from an assignment, its starts found by CP-SAT: each request of ``chosen`` on
    its piece's instrument, inside the piece, with any of its operators there; the most weight
    placed (every instrument, operator, lab and budget of ``caps`` exact), hinted with
    :func:`decode_best`'s greedy starts; then the requests of ``fill`` by weight per hour, each at
    its best-fitting start.  Where the greedy starts lose requests of a full piece (an operator
    wanted on two instruments at once: the relaxation counts only its hours), CP-SAT usually
    sequences all of them.  The greedy result is kept if CP-SAT finds nothing better in ``time_limit``."""
    from .baselines import greedy_fill
    from .model import ComponentModel

    greedy = decode_best(problem, static, chosen, caps=caps, fill=fill)
    alts: dict[str, list[Alternative]] = {}
    for pv in chosen:
        r = pv.alt.request
        ins = problem.instrument_by_id[pv.alt.instrument]
        inside = [(pv.piece[0] + ins.setup, pv.piece[1] - r.duration - ins.cleanup + 1)]
        mine = [Alternative(r, a.instrument, a.operator, s, a.spend) for a in static.alternatives(r)
                if a.instrument == pv.alt.instrument and (s := intersect(a.starts, inside))]
        if mine and r.id not in alts:
            alts[r.id] = mine
    weight = problem.request_by_id
    model = ComponentModel(problem, static, [weight[k] for k in alts], caps, alternatives=alts)
    res = model.solve({k: p for k, p in greedy.items() if k in alts}, time_limit, workers=1, seed=seed)
    sched = Schedule(problem, static)
    for p in res.placements:
        sched.add(p)
    greedy_fill(problem, _by_rate(fill), sched, best_fit=True)
    if sum(weight[k].weight for k in sched.placed) <= sum(weight[k].weight for k in greedy):
        return greedy
    return dict(sched.placed)
