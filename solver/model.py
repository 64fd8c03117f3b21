r"""CP-SAT model of one component of the allocation problem.

Formulation
-----------
Data: requests :math:`r \in R` with duration :math:`d_r`, weight :math:`w_r`, release
:math:`\rho_r`, deadline :math:`\delta_r`; instruments :math:`i` with set-up :math:`S_i`,
clean-up :math:`C_i`, windows :math:`W_i` and merged busy time :math:`B_i`; operators
:math:`o` with working windows :math:`W_o`; labs :math:`\ell` with capacity :math:`c_\ell`;
budgets :math:`\beta_k` for enterprises and controller groups :math:`k`; grid :math:`g`
(see :mod:`solver.static`).

Alternatives :math:`a = (r, i, o) \in A_r` (``o`` only for operator-run requests, over the
operators qualified on ``i``), each with the start set

.. math::
    T_a = \{ t \in \mathbb{Z} : \exists w \in W_i,\ [g t - S_i, g t + d_r + C_i) \subseteq w \setminus B_i,\
    g t \ge \rho_r,\ g t + d_r \le \delta_r,\ \exists u \in W_o,\ [g t, g t + d_r) \subseteq u \}

built with ``Domain.from_intervals``; alternatives with :math:`T_a = \emptyset` are dropped.

Variables: :math:`x_a \in \{0,1\}` (alternative chosen), :math:`t_a \in T_a` (start / g);
optional intervals :math:`I_a = [g t_a - S_i, g t_a + d_r + C_i)` (instrument, with buffers) and
:math:`J_a = [g t_a, g t_a + d_r)` (operator, lab), present iff :math:`x_a`.

.. math::
    \max \sum_a w_{r(a)} x_a \; (+\ \phi \sum_e y_e \text{ with fairness: } y_e \le \sum_{a \in A_e} x_a)

subject to

.. math::
    \sum_{a \in A_r} x_a \le 1 \quad \forall r \qquad
    \mathrm{NoOverlap}(\{I_a : i(a) = i\} \cup F_i) \quad \forall i \qquad
    \mathrm{NoOverlap}(\{J_a : o(a) = o\} \cup F_o) \quad \forall o

.. math::
    \mathrm{Cumulative}(\{J_a : \mathrm{lab}(i(a)) = \ell\}, 1, c_\ell) \quad \forall \ell
    \text{ with } c_\ell < |\text{instruments of } \ell| \qquad
    \sum_{a \in A_k} \mathrm{spend}_a\, x_a \le \beta_k \quad \forall k \text{ binding}

where :math:`F_i` are fixed intervals covering the time outside :math:`\bigcup W_i \setminus B_i`
(merged first, as overlapping fixed intervals would make NoOverlap infeasible), :math:`F_o`
the time outside the operator's windows, and
:math:`\mathrm{spend}_a = \lceil p_{r,i} d_r / 60 \cdot v_r \rceil`.  A budget is binding when the
component could spend more than it; the decomposition may hand a component only a share
:math:`\beta_k^c` of a budget (see :mod:`solver.decompose`).  An optional valid upper bound
:math:`U` (from :mod:`solver.bound`) is added as :math:`\sum_a w x_a \le U`.

Second, lexicographic phase (only when some request has a preferred start
:math:`\pi_r`): fix :math:`\sum_a w x_a \ge z^*` (the first phase's value), hint the first
solution and minimise :math:`\sum_a \mathrm{dev}_a` with
:math:`\mathrm{dev}_a \ge |g t_a - \pi_r|` enforced by :math:`x_a`.

Invariants: every solution of the model is feasible for the component with the caps it was
given (each constraint of the problem is a constraint here, on the grid of
:mod:`solver.static`, which loses no optimality).  :math:`U` cuts off no feasible schedule,
being a valid bound.  :meth:`ComponentModel.solve` starts from a complete hint and returns the
hint itself when CP-SAT finds nothing in time; phase 2 keeps the first phase's weight (its
result is taken only if at least as heavy, unless a fairness bonus is on); callers keep the
heavier of hint and result (the ``cp_sat`` stage, :meth:`solver.lns.LNS.commit`).

This model is the ``cp_sat`` stage (:mod:`solver.stages`) and the sub-problem of
:mod:`solver.lns` and :func:`solver.knapsack.decode_exact`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .problem import Placement, Problem, Request
from .static import Alternative, Static
from .windows import merge, subtract, to_grid


@dataclass
class ComponentResult:
    placements: list[Placement]
    objective: int
    status: str
    cp_bound: float | None
    phase2: str | None = None
    wall: float = 0.0
    stats: dict = field(default_factory=dict)


def _key_of(problem: Problem, r: Request) -> list[str]:
    keys = [f"enterprise:{r.enterprise}"]
    g = problem.group_of(r.enterprise)
    if g is not None:
        keys.append(f"group:{g}")
    return keys


class ComponentModel:
    def __init__(self, problem: Problem, static: Static, requests: list[Request],
                 caps: dict[str, int], upper_bound: int | None = None, fairness_bonus: int = 0,
                 alternatives: dict[str, list[Alternative]] | None = None,
                 lab_busy: dict[str, list[tuple[int, int]]] | None = None):
        """``alternatives`` (request id -> alternatives) replaces the static ones, e.g. start
        sets narrowed to a fixed schedule's free time (:mod:`solver.lns`); ``lab_busy`` are
        bookings outside the model that occupy one place of a lab each."""
        self.problem = problem
        self.static = static
        g = self.grid = static.grid
        m = self.model = cp_model.CpModel()
        self.alts: list[tuple[Alternative, cp_model.IntVar, cp_model.IntVar]] = []
        inst_iv: dict[str, list] = {}
        inst_span: dict[str, list[int]] = {}
        op_iv: dict[str, list] = {}
        op_span: dict[str, list[int]] = {}
        lab_iv: dict[str, list] = {}
        lab_inst: dict[str, set] = {}
        key_terms: dict[str, list] = {}
        ent_lits: dict[str, list] = {}
        obj_terms = []
        alts_of = static.alternatives if alternatives is None else (lambda r: alternatives.get(r.id, []))
        for r in requests:
            lits = []
            for n, alt in enumerate(alts_of(r)):
                ins = problem.instrument_by_id[alt.instrument]
                gr = to_grid(alt.starts, g)
                if not gr:
                    continue
                dom = cp_model.Domain.from_intervals([[lo, hi - 1] for lo, hi in gr])
                t = m.new_int_var_from_domain(dom, f"t_{r.id}_{n}")
                x = m.new_bool_var(f"x_{r.id}_{n}")
                self.alts.append((alt, x, t))
                lits.append(x)
                iv = m.new_optional_fixed_size_interval_var(g * t - ins.setup, ins.setup + r.duration + ins.cleanup, x, "")
                inst_iv.setdefault(ins.id, []).append(iv)
                sp = inst_span.setdefault(ins.id, [10**18, -10**18])
                sp[0] = min(sp[0], gr[0][0] * g - ins.setup)
                sp[1] = max(sp[1], (gr[-1][1] - 1) * g + r.duration + ins.cleanup)
                lab = problem.lab_by_id.get(ins.lab) if ins.lab is not None else None
                if alt.operator is not None or lab is not None:
                    jv = m.new_optional_fixed_size_interval_var(g * t, r.duration, x, "")
                    if alt.operator is not None:
                        op_iv.setdefault(alt.operator, []).append(jv)
                        sp = op_span.setdefault(alt.operator, [10**18, -10**18])
                        sp[0] = min(sp[0], gr[0][0] * g)
                        sp[1] = max(sp[1], (gr[-1][1] - 1) * g + r.duration)
                    if lab is not None:
                        lab_iv.setdefault(lab.id, []).append(jv)
                        lab_inst.setdefault(lab.id, set()).add(ins.id)
                if alt.spend > 0:
                    for k in _key_of(problem, r):
                        if k in caps:
                            key_terms.setdefault(k, []).append((alt.spend, x))
                obj_terms.append((r.weight, x))
            if len(lits) > 1:
                m.add_at_most_one(lits)
            if lits:
                ent_lits.setdefault(r.enterprise, []).extend(lits)
        for iid, ivs in inst_iv.items():
            lo, hi = inst_span[iid]
            fixed = subtract([(lo, hi)], merge(static.pieces(iid)))
            ivs = ivs + [m.new_fixed_size_interval_var(a, b - a, "") for a, b in fixed]
            m.add_no_overlap(ivs)
        for oid, ivs in op_iv.items():
            lo, hi = op_span[oid]
            fixed = subtract([(lo, hi)], merge(problem.operator_by_id[oid].windows))
            ivs = ivs + [m.new_fixed_size_interval_var(a, b - a, "") for a, b in fixed]
            m.add_no_overlap(ivs)
        for lid, ivs in lab_iv.items():
            cap = problem.lab_by_id[lid].capacity
            if cap < len(lab_inst[lid]) or (lab_busy and lab_busy.get(lid)):
                ivs = ivs + [m.new_fixed_size_interval_var(a, b - a, "") for a, b in (lab_busy or {}).get(lid, [])]
                m.add_cumulative(ivs, [1] * len(ivs), cap)
        for k, terms in key_terms.items():
            if sum(s for s, _ in terms) > caps[k]:
                m.add(sum(s * x for s, x in terms) <= caps[k])
        self.weight_expr = sum(w * x for w, x in obj_terms)
        if upper_bound is not None:
            m.add(self.weight_expr <= upper_bound)
        self.fair_expr = 0
        self.served: dict[str, cp_model.IntVar] = {}
        if fairness_bonus:
            for e, lits in ent_lits.items():
                y = self.served[e] = m.new_bool_var(f"served_{e}")
                m.add(y <= sum(lits))
            self.fair_expr = fairness_bonus * sum(self.served.values())
        m.maximize(self.weight_expr + self.fair_expr)
        self.fairness_bonus = fairness_bonus

    def set_hint(self, placements: dict[str, Placement], dev=None):
        m = self.model
        m.clear_hints()
        g = self.grid
        hinted_ent = set()
        for alt, x, t in self.alts:
            p = placements.get(alt.request.id)
            on = (p is not None and p.instrument == alt.instrument and p.operator == alt.operator
                  and p.start % g == 0)
            m.add_hint(x, on)
            if on:
                hinted_ent.add(alt.request.enterprise)
                m.add_hint(t, p.start // g)
            else:
                m.add_hint(t, to_grid(alt.starts, g)[0][0])
        if dev is not None:
            for (alt, _x, _t), dv in dev:
                p = placements.get(alt.request.id)
                on = p is not None and p.instrument == alt.instrument and p.operator == alt.operator
                m.add_hint(dv, abs(p.start - alt.request.preferred_start) if on else 0)
        for e, y in self.served.items():
            m.add_hint(y, e in hinted_ent)

    def _params(self, solver, time_limit, workers, seed, deterministic_time):
        p = solver.parameters
        p.max_time_in_seconds = max(0.05, float(time_limit))
        p.num_workers = int(workers)
        p.random_seed = int(seed)
        if deterministic_time is not None:
            p.max_deterministic_time = float(deterministic_time)
        p.log_search_progress = False

    def _extract(self, solver) -> dict[str, Placement]:
        out = {}
        for alt, x, t in self.alts:
            if solver.boolean_value(x):
                out[alt.request.id] = Placement(alt.request.id, alt.instrument,
                                                self.grid * solver.value(t), alt.operator)
        return out

    def solve(self, hint: dict[str, Placement], time_limit: float, workers: int = 2, seed: int = 0,
              deterministic_time: float | None = None, phase2_time: float = 0.0) -> ComponentResult:
        import time
        t0 = time.perf_counter()
        self.set_hint(hint)
        solver = cp_model.CpSolver()
        self._params(solver, time_limit, workers, seed, deterministic_time)
        st = solver.solve(self.model)
        status = solver.status_name(st)
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return ComponentResult(list(hint.values()), sum(self.problem.request_by_id[k].weight for k in hint),
                                   status, None, wall=time.perf_counter() - t0)
        sol = self._extract(solver)
        obj = sum(self.problem.request_by_id[k].weight for k in sol)
        bound = solver.best_objective_bound if not self.fairness_bonus else None
        res = ComponentResult(list(sol.values()), obj, status, bound)
        # Phase 2: minimise distance to preferred starts with the first objective fixed.
        with_pref = [(alt, x, t) for alt, x, t in self.alts if alt.request.preferred_start is not None]
        if with_pref and phase2_time > 0.05:
            m = self.model
            first_value = int(round(solver.objective_value))
            m.add(self.weight_expr + self.fair_expr >= first_value)
            devs = []
            for alt, x, t in with_pref:
                pi = alt.request.preferred_start
                dv = m.new_int_var(0, max(self.problem.horizon_minutes, pi) + abs(pi), "")
                m.add(dv >= self.grid * t - pi).only_enforce_if(x)
                m.add(dv >= pi - self.grid * t).only_enforce_if(x)
                devs.append(((alt, x, t), dv))
            m.minimize(sum(dv for _, dv in devs))
            self.set_hint(sol, devs)
            s2 = cp_model.CpSolver()
            self._params(s2, phase2_time, workers, seed, deterministic_time)
            st2 = s2.solve(m)
            res.phase2 = s2.status_name(st2)
            if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                sol2 = self._extract(s2)
                obj2 = sum(self.problem.request_by_id[k].weight for k in sol2)
                if obj2 >= obj or self.fairness_bonus:
                    res.placements = list(sol2.values())
                    res.objective = obj2
        res.wall = time.perf_counter() - t0
        return res
