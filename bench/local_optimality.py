"""Is a schedule of the solver optimal inside each resource cluster and each group of clusters
that one binding budget spans?

    python -m bench.local_optimality [--size medium] [--variant normal] [--time-limit 28] [--mip-time 4]

Solves the instance with :func:`solver.solve`, then for every resource cluster
(:func:`solver.lns.resource_clusters`: no request, operator or lab joins two of them) and every
set of clusters whose requests spend from one binding budget, solves the exact time-indexed 0-1
program of those requests (SCIP, :func:`solver.bound.lp_bound` with ``integer=True``) with
every other placement fixed: each budget reduced by what the fixed placements spend, the
schedule as the starting solution.  Prints, per neighbourhood, the schedule's weight there,
SCIP's weight and bound and whether it proved them equal; a gain is taken at once (the next
neighbourhoods start from it) and the final schedule is checked.  A neighbourhood proven
without gain means no change inside it alone can add weight: what is left of the gap to the
bound is in moving budget between clusters, or in the bound.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    from solver import check, solve
    from solver.bound import lp_bound
    from solver.decompose import binding_budgets, budget_keys
    from solver.lns import resource_clusters
    from solver.schedule import Schedule
    from solver.static import Static

    from .instances import generate

    ap = argparse.ArgumentParser(prog="python -m bench.local_optimality")
    ap.add_argument("--size", default="medium")
    ap.add_argument("--variant", default="normal", choices=["normal", "over"])
    ap.add_argument("--time-limit", type=float, default=28.0, help="seconds for solve()")
    ap.add_argument("--mip-time", type=float, default=4.0, help="seconds per neighbourhood")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    pr = generate(a.size, a.variant == "over", a.seed)
    st = Static(pr)
    alloc = solve(pr, time_limit=a.time_limit, seed=a.seed)
    sched = Schedule(pr, st)
    for p in alloc.placements:
        sched.add(p)
    weight = pr.request_by_id
    print(f"{a.size}/{a.variant}: solve() {alloc.objective}, upper bound {alloc.upper_bound}")

    clusters = resource_clusters(pr, st)
    cluster_of = {i: n for n, c in enumerate(clusters) for i in c}
    home = {r.id: cluster_of[st.alternatives(r)[0].instrument] for r in pr.requests if st.alternatives(r)}
    hoods = [frozenset([n]) for n in range(len(clusters))]
    for reqs in binding_budgets(pr, st, pr.requests).values():
        h = frozenset(home[r.id] for r in reqs if r.id in home)
        if len(h) > 1 and h not in hoods:
            hoods.append(h)
    print(f"{'clusters':<22} {'requests':>8} {'schedule':>8} {'SCIP':>6} {'bound':>6}  proven  s")
    t0 = time.perf_counter()
    for h in hoods:
        reqs = [r for r in pr.requests if home.get(r.id) in h]
        ids = {r.id for r in reqs}
        caps = {k: b for r in reqs for k, b in budget_keys(pr, r)}
        for p in sched.placed.values():
            if p.request not in ids:
                r = weight[p.request]
                for k, _ in budget_keys(pr, r):
                    if k in caps:
                        caps[k] -= st.spend(r, p.instrument)
        mine = {rid: p for rid, p in sched.placed.items() if rid in ids}
        before = sum(weight[rid].weight for rid in mine)
        t = time.perf_counter()
        ub, info = lp_bound(pr, st, reqs, caps, time_limit=a.mip_time, integer=True, hint=mine)
        found = info.get("placements")
        value = None if found is None else sum(weight[p.request].weight for p in found)
        if value is not None and value > before:
            for rid in mine:
                sched.remove(rid)
            for p in found:
                sched.add(p)
        print(f"{','.join(map(str, sorted(h))):<22} {len(reqs):8d} {before:8d} {value if value is not None else '-':>6} "
              f"{ub if ub is not None else '-':>6}  {'yes' if info.get('optimal') else 'no':>6}  "
              f"{time.perf_counter() - t:.1f}", flush=True)
    total = sum(weight[rid].weight for rid in sched.placed)
    bad = check(pr, list(sched.placed.values()))
    print(f"after {len(hoods)} neighbourhoods ({time.perf_counter() - t0:.0f} s): {total} "
          f"(+{total - alloc.objective}), {'valid' if not bad else bad[:2]}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
