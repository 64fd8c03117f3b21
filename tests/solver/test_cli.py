"""JSON CLI round trip on the minimal example."""

import json
import os
import subprocess
import sys

from helpers import ROOT

MINIMAL = {"format": 1, "horizon_minutes": 40320, "slot_minutes": 30,
           "instruments": [{"id": "I0", "windows": [[480, 720], [780, 1020]], "busy": [[540, 600]]}],
           "enterprises": [{"id": "E0", "voucher_budget": 500000}],
           "requests": [{"id": "R0", "enterprise": "E0", "duration": 60, "release": 0,
                         "deadline": 2880, "eligible": ["I0"], "weight": 4,
                         "price_per_hour": {"I0": 40000}, "voucher_share": 0.5}]}


def run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "solver", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)


def test_solve_and_check_round_trip(tmp_path):
    prob = tmp_path / "p.json"
    prob.write_text(json.dumps(MINIMAL))
    for method in ("cpsat", "fcfs", "greedy"):
        res = run("solve", str(prob), "--time-limit", "2", "--workers", "1", "--seed", "3", "--method", method)
        assert res.returncode == 0, res.stderr
        sol = json.loads(res.stdout)
        assert sol["objective"] == 4
        assert sol["assignments"][0]["request"] == "R0"
        path = tmp_path / f"{method}.json"
        path.write_text(res.stdout)
        chk = run("check", str(prob), str(path))
        assert chk.returncode == 0, chk.stdout
    assert json.loads((tmp_path / "cpsat.json").read_text())["upper_bound"] == 4


def test_check_rejects_bad_solution(tmp_path):
    prob = tmp_path / "p.json"
    prob.write_text(json.dumps(MINIMAL))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"assignments": [{"request": "R0", "instrument": "I0", "start": 540}],
                               "objective": 4}))
    chk = run("check", str(prob), str(bad))
    assert chk.returncode != 0
    assert "busy" in chk.stdout


def test_json_round_trip_keeps_problem():
    from solver import problem_from_json, problem_to_json
    p = problem_from_json(MINIMAL)
    q = problem_from_json(json.loads(json.dumps(problem_to_json(p))))
    assert problem_to_json(q) == problem_to_json(p)
    from fractions import Fraction
    assert q.requests[0].voucher_share == Fraction(1, 2)
