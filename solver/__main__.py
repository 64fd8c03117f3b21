"""Command line: ``python -m solver solve PROBLEM.json --time-limit S [--workers N] [--seed N]
[--method cpsat|fcfs|greedy] > SOLUTION.json`` and ``python -m solver check PROBLEM.json
SOLUTION.json`` (exit 0 if valid; else exit 1 and one violation per line on stdout)."""

from __future__ import annotations

import argparse
import json
import sys

from . import allocation_to_json, check, fcfs, problem_from_json, solve, value_greedy


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m solver")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("solve", help="solve a problem, print the solution JSON")
    s.add_argument("problem")
    s.add_argument("--time-limit", type=float, default=30.0)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--method", choices=["cpsat", "fcfs", "greedy"], default="cpsat")
    s.add_argument("--fairness-bonus", type=int, default=0)
    c = sub.add_parser("check", help="check a solution against a problem")
    c.add_argument("problem")
    c.add_argument("solution")
    a = ap.parse_args(argv)
    with open(a.problem) as f:
        problem = problem_from_json(json.load(f))
    if a.cmd == "solve":
        if a.method == "fcfs":
            alloc = fcfs(problem)
        elif a.method == "greedy":
            alloc = value_greedy(problem)
        else:
            alloc = solve(problem, time_limit=a.time_limit, workers=a.workers, seed=a.seed,
                          fairness_bonus=a.fairness_bonus)
        json.dump(allocation_to_json(alloc), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    with open(a.solution) as f:
        sol = json.load(f)
    violations = check(problem, sol.get("assignments", []), sol.get("objective"))
    if "upper_bound" in sol and sol["upper_bound"] is not None and sol.get("objective") is not None \
            and sol["upper_bound"] < sol["objective"]:
        violations.append(f"upper_bound {sol['upper_bound']} is below the objective {sol['objective']}")
    for v in violations:
        print(v)
    if not violations:
        print(f"ok: {len(sol.get('assignments', []))} assignments, objective {sol.get('objective')}",
              file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
