"""Split a problem into independent components, handling voucher coupling soundly.

1. Requests are connected through shared resources: union-find over instruments (a request
   joins all instruments of its alternatives), operators (an operator-run alternative joins
   its operator) and labs whose capacity can bind (capacity < number of its instruments).
   Requests without any alternative are left out (they cannot be placed).
2. Budgets: a budget (enterprise or controller group) *binds* when the most its requests could
   spend (sum over requests of the largest alternative spend) exceeds it; non-binding budgets
   are dropped (they can never be violated).  Components sharing a binding budget are merged
   while the merged component stays within ``merge_limit`` requests.
3. A binding budget that still spans several components is *split*: components are solved one
   after the other, each with the *residual* budget ``budget - (what the current solutions of
   all other components spend)`` (set by the pipeline; the initial share here is the warm
   start's spend plus a proportional part of its slack).  The current global solution is thus
   feasible at every step, and the warm start stays feasible in every component.  Bounds use
   the full budget instead (a relaxation), so they stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .problem import Placement, Problem, Request, voucher_spend
from .static import Static


class UnionFind:
    def __init__(self):
        self.p: dict = {}

    def find(self, x):
        p = self.p
        p.setdefault(x, x)
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:
            p[x], x = root, p[x]
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb, key=str)] = min(ra, rb, key=str)


@dataclass
class Component:
    requests: list[Request]
    caps: dict[str, int] = field(default_factory=dict)     # CP-SAT caps (shares)
    lp_caps: dict[str, int] = field(default_factory=dict)  # full budgets, for bounds
    split: set[str] = field(default_factory=set)           # keys whose budget was split


def budget_keys(problem: Problem, r: Request) -> list[tuple[str, int]]:
    out = []
    b = problem.enterprise_budget(r.enterprise)
    if b is not None:
        out.append((f"enterprise:{r.enterprise}", b))
    g = problem.group_of(r.enterprise)
    gb = problem.group_budget(g)
    if gb is not None:
        out.append((f"group:{g}", gb))
    return out


def budget_holder(problem: Problem, key: str):
    """The enterprise or controller group whose budget a key of :func:`budget_keys` names."""
    kind, name = key.split(":", 1)
    return (problem.enterprise_by_id if kind == "enterprise" else problem.group_by_id)[name]


def binding_budgets(problem: Problem, static: Static, requests: list[Request]) -> dict[str, list[Request]]:
    """Budgets (``enterprise:<id>`` / ``group:<id>``) that ``requests`` could overspend, each
    counted at its most expensive alternative, with the requests that spend from them."""
    spenders: dict[str, list[Request]] = {}
    potential: dict[str, int] = {}
    budget: dict[str, int] = {}
    for r in requests:
        mx = max((a.spend for a in static.alternatives(r)), default=0)
        if mx <= 0:
            continue
        for k, b in budget_keys(problem, r):
            spenders.setdefault(k, []).append(r)
            potential[k] = potential.get(k, 0) + mx
            budget[k] = b
    return {k: v for k, v in sorted(spenders.items()) if potential[k] > budget[k]}


def decompose(problem: Problem, static: Static, warm: dict[str, Placement],
              merge_limit: int = 400) -> tuple[list[Component], list[Request]]:
    """Components and the requests that have no alternative at all."""
    uf = UnionFind()
    lab_binding = set()
    for lab in problem.labs:
        n = sum(1 for i in problem.instruments if i.lab == lab.id)
        if lab.capacity < n:
            lab_binding.add(lab.id)
    placeable, hopeless = [], []
    for r in problem.requests:
        alts = static.alternatives(r)
        if not alts:
            hopeless.append(r)
            continue
        placeable.append(r)
        node = ("r", r.id)
        for alt in alts:
            uf.union(node, ("i", alt.instrument))
            if alt.operator is not None:
                uf.union(node, ("o", alt.operator))
            lab = problem.instrument_by_id[alt.instrument].lab
            if lab in lab_binding:
                uf.union(node, ("l", lab))
    comp_of = {r.id: uf.find(("r", r.id)) for r in placeable}
    budget = {k: b for r in placeable for k, b in budget_keys(problem, r)}
    binding = sorted(binding_budgets(problem, static, placeable))
    key_comps: dict[str, set] = {k: set() for k in binding}
    bset = set(binding)
    # a request that spends nothing on every alternative couples nothing through a budget
    most = {r.id: max(a.spend for a in static.alternatives(r)) for r in placeable}
    spenders = [r for r in placeable if most[r.id] > 0]
    for r in spenders:
        for k, _ in budget_keys(problem, r):
            if k in bset:
                key_comps[k].add(comp_of[r.id])
    size: dict = {}
    for r in placeable:
        size[comp_of[r.id]] = size.get(comp_of[r.id], 0) + 1
    cuf = UnionFind()
    csize = dict(size)
    # Merge cheapest couplings first (fewest components).
    for k in sorted(binding, key=lambda k: (len(key_comps[k]), k)):
        roots = {cuf.find(c) for c in key_comps[k]}
        if len(roots) <= 1:
            continue
        total = sum(csize.get(c, 0) for c in roots)
        if total > merge_limit:
            continue
        roots = sorted(roots, key=str)
        for c in roots[1:]:
            cuf.union(roots[0], c)
        new = cuf.find(roots[0])
        csize[new] = total
    groups: dict = {}
    for r in placeable:
        groups.setdefault(cuf.find(comp_of[r.id]), []).append(r)
    comps = {c: Component(reqs) for c, reqs in groups.items()}
    croot = {r.id: cuf.find(comp_of[r.id]) for r in placeable}
    # Caps per component.
    pot_c: dict[tuple[str, object], int] = {}
    spent_c: dict[tuple[str, object], int] = {}
    for r in spenders:
        p = warm.get(r.id)
        sp = voucher_spend(r, p.instrument) if p is not None else 0
        for k, _ in budget_keys(problem, r):
            if k in bset:
                key = (k, croot[r.id])
                pot_c[key] = pot_c.get(key, 0) + most[r.id]
                spent_c[key] = spent_c.get(key, 0) + sp
    for k in binding:
        cs = sorted({c for (kk, c) in pot_c if kk == k}, key=str)
        if not cs:
            continue
        if len(cs) == 1:
            comps[cs[0]].caps[k] = budget[k]
            comps[cs[0]].lp_caps[k] = budget[k]
            continue
        spent = sum(spent_c[(k, c)] for c in cs)
        slack = max(0, budget[k] - spent)
        pot = sum(pot_c[(k, c)] for c in cs)
        for c in cs:
            comps[c].caps[k] = spent_c[(k, c)] + (slack * pot_c[(k, c)] // pot if pot else 0)
            comps[c].lp_caps[k] = budget[k]
            comps[c].split.add(k)
    out = sorted(comps.values(), key=lambda c: c.requests[0].id)
    return out, hopeless
