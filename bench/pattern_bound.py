"""How fast the pattern relaxation's bound (solver.patterns) converges on a benchmark instance.

    python -m bench.pattern_bound [--size medium] [--variant normal] [--time-limit 30]

Seeds the columns with the value-greedy schedule, then runs column generation on the whole
problem, printing after each iteration the seconds, the restricted master's LP value (a lower
estimate of the relaxation) and the best valid (Lagrangian) bound so far; at the end, the 0-1
program over the generated patterns (price and branch) for a few seconds, decoded and checked.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    from solver import check
    from solver.baselines import greedy_fill, value_order
    from solver.knapsack import decode_best
    from solver.patterns import PatternLP
    from solver.schedule import Schedule
    from solver.static import Static

    from .instances import generate

    ap = argparse.ArgumentParser(prog="python -m bench.pattern_bound")
    ap.add_argument("--size", default="medium")
    ap.add_argument("--variant", default="normal", choices=["normal", "over"])
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--integer-time", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    pr = generate(a.size, a.variant == "over", a.seed)
    st = Static(pr)
    sched = Schedule(pr, st)
    greedy_fill(pr, value_order(pr), sched)
    warm = sum(pr.request_by_id[k].weight for k in sched.placed)
    t0 = time.perf_counter()
    pl = PatternLP(pr, st)
    pl.columns_of(sched.placed)
    print(f"{a.size}/{a.variant}: {len(pl.requests)} requests, {len(pl.pieces)} pieces, {len(pl.pvs)} piece "
          f"variables, {len(pl.units)} budget units; value-greedy {warm}; built in {time.perf_counter() - t0:.2f} s")
    print(f"{'s':>7} {'iter':>4} {'LP':>10} {'bound':>8}")

    def show(stage, info):
        print(f"{time.perf_counter() - t0:7.2f} {info['iteration']:4d} {info['lp']:10.1f} {info['bound']:8.1f}", flush=True)

    stats = pl.solve(t0 + a.time_limit, progress=show)
    print(f"bound {stats['bound']} (trivial {pl.trivial}) after {stats['iterations']} iterations, "
          f"{stats['columns']} patterns, {stats['unit_columns']} budget columns, {time.perf_counter() - t0:.1f} s")
    t = time.perf_counter()
    res = pl.solve_integer(a.integer_time, hint=sched.placed)
    if "chosen" in res:
        placed = decode_best(pr, st, res["chosen"], caps=pl.budget_of, fill=pr.requests)
        obj = sum(pr.request_by_id[k].weight for k in placed)
        bad = check(pr, list(placed.values()))
        print(f"price and branch: {res['status']} {res['objective']} over the patterns, decoded {obj} "
              f"({'valid' if not bad else bad[:2]}) in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
