"""Voucher-funded solve on a benchmark instance: the funded path with and without the pipeline.

    .venv/bin/python -m bench.funded_solver [--size medium] [--over] [--time-limit 20] [--seed 0]

``bench.instances.generate(size, over, seed)`` with half of the requests voucher-funded (30 %
of those with cash fallback) and 0–6 vouchers per enterprise paying 50 yuan on every eligible
instrument (expiring at minute 5,000, 10,000 or never); prints the objective of FCFS and
value-greedy with the same vouchers, of ``solve_funded`` without the pipeline candidate and of
``solver.solve`` (with it), each checked.  Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import solver
from bench.instances import generate
from solver.funding import solve_funded


def funded_instance(size: str, over: bool, seed: int) -> solver.Problem:
    pr = generate(size, over, seed)
    rng = random.Random(seed)
    for r in pr.requests:
        if rng.random() < 0.5:
            r.funding, r.cash_fallback = "voucher", rng.random() < 0.3
    for e in sorted({r.enterprise for r in pr.requests}):
        mine = [r for r in pr.requests if r.enterprise == e and r.funding == "voucher"]
        for k in range(rng.randint(0, 6)):
            pr.vouchers.append(solver.Voucher(f"V{e}_{k}", e, {r.id: {i: 5000 for i in r.eligible} for r in mine},
                                              expires=rng.choice([None, 5000, 10000])))
    return pr


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="medium")
    ap.add_argument("--over", action="store_true")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    pr = funded_instance(args.size, args.over, args.seed)
    out = {"requests": len(pr.requests), "vouchers": len(pr.vouchers),
           "voucher_requests": sum(r.funding == "voucher" for r in pr.requests)}
    for name, run in (("fcfs", lambda: solver.fcfs(pr)), ("greedy", lambda: solver.value_greedy(pr)),
                      ("funded_without_pipeline", lambda: solve_funded(pr, args.time_limit, 2, args.seed,
                                                                       pipeline_min_requests=10**9)),
                      ("funded", lambda: solver.solve(pr, time_limit=args.time_limit, workers=2, seed=args.seed))):
        t = time.perf_counter()
        a = run()
        assert not solver.check(pr, a.placements), name
        out[name] = {"objective": a.objective, "placed": len(a.placements), "seconds": round(time.perf_counter() - t, 1),
                     "vouchers_used": sum(1 for p in a.placements if p.voucher)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
