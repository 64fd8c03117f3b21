"""Allocation benchmark: FCFS vs value-greedy vs the CP-SAT pipeline.

    python -m bench.allocation [--sizes small,medium,large] [--variants normal,over]
                               [--time-limit-scale X] [--out bench/results/allocation.json]

Each (instance, method) runs in its own subprocess so that peak memory (ru_maxrss) is per run.
Time limits (× scale): small 1.7 s, medium 28 s, large 115 s of solve() (the remainder of the
2 / 30 / 120 s targets is headroom), CP-SAT with 2 workers and a fixed seed.  Every output is
verified with the independent checker.  For medium instances the cpsat run also times
``place()`` for new requests against its schedule (median ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time

LIMITS = {"small": 1.7, "medium": 28.0, "large": 115.0}
METHODS = ["fcfs", "greedy", "cpsat"]


def _single(size: str, variant: str, method: str, time_limit: float, seed: int, workers: int,
            pattern_share: float = 0.0) -> dict:
    from solver import check, fcfs, place, solve, value_greedy
    from solver.problem import Request

    from .instances import generate

    problem = generate(size, variant == "over", seed)
    t0 = time.perf_counter()
    if method == "fcfs":
        alloc = fcfs(problem)
    elif method == "greedy":
        alloc = value_greedy(problem)
    else:
        alloc = solve(problem, time_limit=time_limit, workers=workers, seed=seed, pattern_share=pattern_share)
    wall = time.perf_counter() - t0
    violations = check(problem, alloc.placements, alloc.objective)
    by_id = problem.request_by_id
    out = {
        "size": size, "variant": variant, "method": method, "requests": len(problem.requests),
        "instruments": len(problem.instruments), "objective": alloc.objective,
        "upper_bound": alloc.upper_bound, "status": alloc.status,
        "accepted": len(alloc.placements),
        "accepted_hours": round(sum(by_id[p.request].duration for p in alloc.placements) / 60, 1),
        "enterprises_served": len({by_id[p.request].enterprise for p in alloc.placements}),
        "pref_dev_h": _mean_deviation_h(problem, alloc.placements),
        "wall_s": round(wall, 3), "valid": not violations, "violations": violations[:5],
        "unplaced_codes": {},
        "timings": {k: round(v, 3) for k, v in alloc.timings.items()},
    }
    for u in alloc.unplaced:
        out["unplaced_codes"][u.code] = out["unplaced_codes"].get(u.code, 0) + 1
    if method == "cpsat":
        out["stats"] = {k: v for k, v in alloc.stats.items() if k != "component_detail"}
    # the solver forks child processes (the coupled LP, the pattern LP, the component searches);
    # this is the peak of the largest single process (at most three are alive at once)
    out["peak_mem_mb"] = round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1)
    if method == "cpsat" and size == "medium":
        rng = random.Random(seed)
        times = []
        for n in range(200):
            base = rng.choice(problem.requests)
            req = Request(id=f"NEW{n}", enterprise=base.enterprise, duration=base.duration,
                          eligible=base.eligible, release=base.release, deadline=base.deadline,
                          weight=base.weight, price_per_hour=base.price_per_hour,
                          voucher_share=base.voucher_share, needs_operator=base.needs_operator,
                          preferred_start=base.preferred_start)
            t = time.perf_counter()
            sugg = place(problem, alloc.placements, req, k=5)
            times.append((time.perf_counter() - t) * 1000)
            if n < 20 and sugg:  # spot-check feasibility
                problem.requests.append(req)
                problem.__dict__.pop("request_by_id", None)
                bad = check(problem, alloc.placements + [sugg[0]])
                problem.requests.pop()
                problem.__dict__.pop("request_by_id", None)
                if bad:
                    out.setdefault("place_violations", []).extend(bad[:2])
        out["place_median_ms"] = round(statistics.median(times), 2)
        out["place_p95_ms"] = round(sorted(times)[int(0.95 * len(times))], 2)
    return out


def _mean_deviation_h(problem, placements) -> float | None:
    """Mean hours between a placement and its request's preferred start (the second objective)."""
    devs = [abs(p.start - problem.request_by_id[p.request].preferred_start) for p in placements
            if problem.request_by_id[p.request].preferred_start is not None]
    return round(sum(devs) / len(devs) / 60, 1) if devs else None


def _table(rows: list[dict]) -> str:
    ub = {(r["size"], r["variant"]): r["upper_bound"] for r in rows if r["method"] == "cpsat"}
    head = ["size", "load", "method", "objective", "% of UB", "upper bd", "accepted h",
            "ent. served", "pref. dev h", "wall s", "peak MB", "valid", "status"]
    lines = [head]
    for r in rows:
        u = ub.get((r["size"], r["variant"]))
        pct = f"{100 * r['objective'] / u:.2f}" if u else "-"
        lines.append([r["size"], r["variant"], r["method"], str(r["objective"]), pct,
                      str(u if u is not None else "-"), f"{r['accepted_hours']:.1f}",
                      str(r["enterprises_served"]), str(r.get("pref_dev_h", "-")),
                      f"{r['wall_s']:.2f}", f"{r['peak_mem_mb']:.0f}",
                      "yes" if r["valid"] else "NO", r["status"]])
    widths = [max(len(x[k]) for x in lines) for k in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(x.rjust(w) if k >= 3 else x.ljust(w) for k, (x, w) in enumerate(zip(line, widths, strict=True))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.allocation")
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--variants", default="normal,over")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--time-limit-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pattern-share", type=float, default=0.0,
                    help="share of the time for the pattern bound (solver.patterns); 0 = off")
    ap.add_argument("--out", default="bench/results/allocation.json")
    ap.add_argument("--single", nargs=3, metavar=("SIZE", "VARIANT", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--time-limit", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.single:
        size, variant, method = a.single
        print(json.dumps(_single(size, variant, method, a.time_limit, a.seed, a.workers, a.pattern_share)))
        return 0
    rows = []
    for size in a.sizes.split(","):
        for variant in a.variants.split(","):
            for method in a.methods.split(","):
                tl = LIMITS[size] * a.time_limit_scale
                cmd = [sys.executable, "-m", "bench.allocation", "--single", size, variant, method,
                       "--time-limit", str(tl), "--seed", str(a.seed), "--workers", str(a.workers),
                       "--pattern-share", str(a.pattern_share)]
                env = dict(os.environ)
                root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
                res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
                if res.returncode != 0:
                    print(res.stderr, file=sys.stderr)
                    raise SystemExit(f"run failed: {size} {variant} {method}")
                row = json.loads(res.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"  {size:6} {variant:6} {method:6} objective {row['objective']:>7} "
                      f"wall {row['wall_s']:7.2f}s valid {row['valid']}", file=sys.stderr, flush=True)
    print(_table(rows))
    for r in rows:
        if "place_median_ms" in r:
            print(f"place() on the {r['size']}/{r['variant']} schedule: median {r['place_median_ms']} ms, "
                  f"p95 {r['place_p95_ms']} ms over 200 new requests"
                  + (f"; VIOLATIONS {r['place_violations']}" if r.get("place_violations") else ""))
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w") as f:
            json.dump({"command": " ".join(["python -m bench.allocation"] + (argv or sys.argv[1:])),
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
