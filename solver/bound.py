r"""Valid upper bounds on the accepted weight.

Time-indexed LP relaxation of a component (solved with GLOP), on the solver grid:

.. math::
    \max \sum_{a,t} w_{r(a)} x_{a,t} \quad \text{s.t.} \quad
    \sum_{a \in A_r, t} x_{a,t} \le 1 \ \forall r, \qquad
    \sum_{(a,t) \text{ covering cell } c \text{ of } i} x_{a,t} \le 1 \ \forall i, c,

the same cell constraints per operator (capacity 1) and per binding lab (capacity
:math:`c_\ell`), budget rows :math:`\sum \mathrm{spend}_a x_{a,t} \le \beta_k` with the *full*
budget of every binding enterprise/group, its cardinality cut
:math:`\sum_{a : \mathrm{spend}_a > 0,\, t} x_{a,t} \le n_k` (:math:`n_k` the most of its requests
whose cheapest positive spends fit in :math:`\beta_k` together; valid for 0-1 :math:`x`, see
:mod:`solver.knapsack`), and :math:`0 \le x \le 1`.  A start :math:`t` ranges
over the alternative's start set :math:`T_a`; the instrument interval covers the cells of
:math:`[g t - S_i, g t + d_r + C_i)`.

The bound is not GLOP's objective but a *safe* dual bound recomputed from its dual values
:math:`y \ge 0`: :math:`\sum_k b_k y_k + \sum_j \max(0, c_j - (A^\top y)_j)`, which is a valid
upper bound for any :math:`y \ge 0` (weak duality with the box :math:`x \le 1`), so tolerances
or a time limit cannot make it invalid.  It is then floored (weights are integers).

Using the full budget (not the component's share) and dropping budgets of other components
makes it a relaxation of the global problem restricted to the component, so the sum over
components is a valid bound for the whole problem.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.linear_solver import linear_solver_pb2 as lp
from ortools.linear_solver import pywraplp

from .knapsack import max_funded
from .problem import Problem, Request
from .static import Static
from .windows import to_grid


def trivial_bound(requests: list[Request], static: Static) -> int:
    return sum(r.weight for r in requests if static.alternatives(r))


def lp_bound(problem: Problem, static: Static, requests: list[Request], caps: dict[str, int],
             time_limit: float = 10.0, max_vars: int = 2_000_000, integer: bool = False,
             budgets_exact: bool = False, hint: dict | None = None) -> tuple[int | None, dict]:
    """Safe LP bound of the component (None if too big or GLOP failed).

    With ``integer=True`` the same time-indexed model is solved as a 0-1 MIP with SCIP: it is
    then an exact model of the component on the grid (with ``caps`` as budgets), and
    ``info["placements"]`` holds its solution; the bound is SCIP's dual bound.  ``hint``
    (request id -> placement, on the grid) is a solution for SCIP to start from.
    """
    t0 = time.perf_counter()
    g = static.grid
    rows: dict = {}
    row_ub: list[float] = []
    cols_rows: list[list[int]] = []   # per variable: its rows (coefficient 1 except budgets)
    budget_entries: list[tuple[int, int, int]] = []  # (var, row, spend)
    obj: list[float] = []
    meta: list = []

    def row(key, ub):
        k = rows.get(key)
        if k is None:
            k = rows[key] = len(row_ub)
            row_ub.append(float(ub))
        return k

    labs_binding = {}
    for lab in problem.labs:
        insts = {i.id for i in problem.instruments if i.lab == lab.id}
        if lab.capacity < len(insts):
            labs_binding[lab.id] = lab.capacity
    nvars = 0
    keys_of = {r.id: [k for k in (f"enterprise:{r.enterprise}", f"group:{problem.group_of(r.enterprise)}")
                      if k in caps] for r in requests}
    # cardinality cut of each binding budget (see solver.knapsack._cardinality_rows)
    cheapest: dict[str, list[int]] = {}
    for r in requests:
        sp = [a.spend for a in static.alternatives(r) if a.spend > 0]
        for k in keys_of[r.id] if sp else ():
            cheapest.setdefault(k, []).append(min(sp))
    card = {k: n for k, v in cheapest.items() if (n := max_funded(v, caps[k])) < len(v)}
    for r in requests:
        alts = static.alternatives(r)
        if not alts:
            continue
        rr = row(("r", r.id), 1)
        keys = keys_of[r.id]
        crows = [row(("c", k), card[k]) for k in keys if k in card]
        for alt in alts:
            ins = problem.instrument_by_id[alt.instrument]
            pre = ins.setup // g
            ilen = (ins.setup + r.duration + ins.cleanup) // g
            dlen = r.duration // g
            lab = labs_binding.get(ins.lab) if ins.lab is not None else None
            krows = [row(("k", k), caps[k]) for k in keys] if alt.spend > 0 else []
            for lo, hi in to_grid(alt.starts, g):
                nvars += hi - lo
                if nvars > max_vars:
                    return None, {"reason": "too big", "vars": nvars}
                for t in range(lo, hi):
                    rs = [rr] + crows if alt.spend > 0 else [rr]
                    c0 = t - pre
                    for c in range(c0, c0 + ilen):
                        rs.append(row(("i", ins.id, c), 1))
                    if alt.operator is not None:
                        for c in range(t, t + dlen):
                            rs.append(row(("o", alt.operator, c), 1))
                    if lab is not None:
                        for c in range(t, t + dlen):
                            rs.append(row(("l", ins.lab, c), lab))
                    j = len(obj)
                    meta.append((alt, t))
                    obj.append(float(r.weight))
                    cols_rows.append(rs)
                    for kr in krows:
                        budget_entries.append((j, kr, alt.spend))
    if not obj:
        return 0, {"vars": 0}
    # Build the LP proto row-wise.
    nrows = len(row_ub)
    row_vars: list[list[int]] = [[] for _ in range(nrows)]
    for j, rs in enumerate(cols_rows):
        for k in rs:
            row_vars[k].append(j)
    row_budget: dict[int, tuple[list[int], list[float]]] = {}
    for j, k, s in budget_entries:
        vs, cs = row_budget.setdefault(k, ([], []))
        vs.append(j)
        cs.append(float(s))
    req = lp.MPModelRequest()
    req.solver_type = lp.MPModelRequest.GLOP_LINEAR_PROGRAMMING
    req.solver_time_limit_seconds = max(0.1, float(time_limit))
    m = req.model
    m.maximize = True
    add = m.variable.add
    for c in obj:
        add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=c, is_integer=integer)
    if integer:
        req.solver_type = lp.MPModelRequest.SCIP_MIXED_INTEGER_PROGRAMMING
        req.solver_specific_parameters = "limits/gap = 0\nlimits/absgap = 0.5\nlp/threads = 1\n"
        if hint:  # each hinted placement's variable at 1, every other at 0
            on = {(p.request, p.instrument, p.operator, p.start) for p in hint.values()}
            m.solution_hint.var_index.extend(range(len(obj)))
            values = [1.0 if (a.request.id, a.instrument, a.operator, g * t) in on else 0.0 for a, t in meta]
            m.solution_hint.var_value.extend(values)
            hinted = int(sum(values))  # placements that found their variable (off the grid: none)
    for k in range(nrows):
        ct = m.constraint.add(lower_bound=-math.inf, upper_bound=row_ub[k])
        if k in row_budget:
            vs, cs = row_budget[k]
            ct.var_index.extend(vs)
            ct.coefficient.extend(cs)
        else:
            ct.var_index.extend(row_vars[k])
            ct.coefficient.extend([1.0] * len(row_vars[k]))
    t_build = time.perf_counter() - t0
    resp = lp.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(req, resp)
    info = {"vars": len(obj), "rows": nrows, "build": t_build, "lp_status": lp.MPSolverResponseStatus.Name(resp.status),
            "lp_objective": resp.objective_value}
    if integer and hint:
        info["hinted"] = hinted
    if integer:
        from .problem import Placement
        info["time"] = time.perf_counter() - t0
        if resp.status not in (lp.MPSOLVER_OPTIMAL, lp.MPSOLVER_FEASIBLE):
            return None, info
        vals = resp.variable_value
        info["placements"] = [Placement(a.request.id, a.instrument, g * t, a.operator)
                              for (a, t), v in zip(meta, vals, strict=True) if v > 0.5]
        info["optimal"] = resp.status == lp.MPSOLVER_OPTIMAL
        return math.floor(resp.best_objective_bound + 1e-6), info
    if len(resp.dual_value) != nrows:
        info["time"] = time.perf_counter() - t0
        return None, info
    y = np.maximum(np.asarray(resp.dual_value, dtype=np.float64), 0.0)
    # A^T y
    ones_rows = np.fromiter((k for rs in cols_rows for k in rs), dtype=np.int64)
    ones_cols = np.fromiter((j for j, rs in enumerate(cols_rows) for _ in rs), dtype=np.int64)
    aty = np.bincount(ones_cols, weights=y[ones_rows], minlength=len(obj))
    if budget_entries:
        be = np.asarray(budget_entries, dtype=np.float64)
        aty += np.bincount(be[:, 0].astype(np.int64), weights=y[be[:, 1].astype(np.int64)] * be[:, 2],
                           minlength=len(obj))
    c = np.asarray(obj)
    safe = float(np.dot(np.asarray(row_ub), y) + np.maximum(c - aty, 0.0).sum())
    bound = math.floor(safe + 1e-6 * max(1.0, abs(safe)))
    info["safe"] = safe
    info["time"] = time.perf_counter() - t0
    return bound, info
