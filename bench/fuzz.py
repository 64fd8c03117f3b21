"""Fuzz the whole OpenAPI with schemathesis against a real demo server: no 5xx, no schema violation.

    .venv/bin/python -m bench.fuzz [--max-examples 30] [--phases examples,coverage,fuzzing,stateful]
                                   [--request-timeout 20] [--seed 20] [--real-ids 0.5]
                                   [--as anonymous,enterprise_member,...] [--out bench/results/fuzz]

1. builds a fresh SQLite demo database in a temporary folder (``labshare demo --no-serve
   --tokens-file``: the demo's tokens as JSON), and adds an operator account and token through
   the API (the demo has no operator login);
2. serves it with uvicorn on 127.0.0.1 (a free port; ``LABSHARE_RUN_JOBS=false``,
   ``LABSHARE_RATE_LIMIT_ENABLED=false``), the code of this checkout;
3. runs ``schemathesis run`` over every operation once per identity: anonymous, then an
   enterprise member, an operator, a lab manager and a programme admin (the admin last: what it
   breaks, such as revoking tokens, cannot hide others' findings), with two checks:
   ``not_a_server_error`` and ``response_schema_conformance``; each request has a timeout
   (``--request-timeout``), and a request that times out is reported as such. For the roles,
   path parameters and body fields that name an id get one of the demo's real ids half of the
   time (``--real-ids``), so writes get past "not found" into validation and the services; the
   anonymous run keeps generated ids;
4. prints a table (operations, cases, failures by check, timeouts per identity), writes
   schemathesis' JSON and JUnit reports per identity and a summary ``fuzz.json`` to ``--out``,
   and exits 1 if anything failed.

``--max-examples`` bounds the cases per operation and phase: ``make fuzz`` runs the full job,
CI runs ``make fuzz FUZZ_EXAMPLES=8 FUZZ_PHASES=examples,fuzzing`` (about two minutes on two cores).
Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import serving

ROOT = Path(__file__).resolve().parent.parent
IDENTITIES = ("anonymous", "enterprise_member", "operator", "lab_manager", "programme_admin")
CHECKS = "not_a_server_error,response_schema_conformance"


def _no_server(why: str, log_path: Path) -> None:
    raise SystemExit(f"the server did not start ({why}); see {log_path}")


def build_demo(folder: Path) -> tuple[str, dict[str, str]]:
    """A fresh demo database; returns its URL and one token per role of the demo."""
    url = f"sqlite:///{folder / 'demo.db'}"
    tokens_file = folder / "tokens.json"
    subprocess.run(
        [sys.executable, "-m", "booking_api.cli", "demo", "--no-serve", "--database-url", url,
         "--tokens-file", str(tokens_file)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    tokens: dict[str, str] = {}
    for t in json.loads(tokens_file.read_text()):
        tokens.setdefault(t["role"], t["token"])
    return url, tokens


@contextmanager
def serve(database_url: str, log_path: Path):
    """uvicorn on a free port of 127.0.0.1 over ``database_url``; yields the base URL."""
    port = serving.free_port()
    env = {
        **os.environ,
        "LABSHARE_DATABASE_URL": database_url,
        "LABSHARE_RUN_JOBS": "false",
        "LABSHARE_RATE_LIMIT_ENABLED": "false",
    }
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "booking_api.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            serving.wait_until_healthy(base, proc, 60, on_failure=lambda why: _no_server(why, log_path))
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def add_operator_token(base: str, admin_token: str) -> str:
    """An operator account for one of the demo's operators, and its token (through the API)."""
    with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin_token}"}) as api:
        for unit in api.get("/owner-units", params={"limit": 100}).raise_for_status().json():
            operators = api.get(f"/owner-units/{unit['id']}/operators").raise_for_status().json()
            if operators:
                op = operators[0]["operator"]
                user = api.post(
                    "/users",
                    json={"name": op["name"], "email": f"fuzz-{op['id']}@labshare.example.cn", "role": "operator",
                          "operator_id": op["id"]},
                ).raise_for_status().json()
                return api.post(f"/users/{user['id']}/tokens", json={"label": "fuzz"}).raise_for_status().json()[
                    "token"
                ]
    raise SystemExit("the demo has no operator")


ID_SOURCES = {  # dictionary name → (list URL, how to take ids from an item)
    "instrument": ("/instruments?limit=500", lambda x: [x["id"]]),
    "unit": ("/owner-units?limit=500", lambda x: [x["id"]]),
    "booking": ("/bookings?limit=500", lambda x: [x["id"]]),
    "request": ("/requests?limit=500", lambda x: [x["id"]]),
    "enterprise": ("/enterprises?limit=500", lambda x: [x["id"]]),
    "voucher": ("/vouchers?limit=500", lambda x: [x["id"]]),
    "programme": ("/vouchers?limit=500", lambda x: [x["programme_id"]]),
    "round": ("/rounds?limit=500", lambda x: [x["id"]]),
}
BINDINGS = {  # where real ids go (path parameters and body fields), with a probability each
    "instrument": ["path.instrument_id", "body.instrument_id", "query.instrument_id"],
    "unit": ["path.unit_id", "body.owner_unit_id", "query.owner_unit_id"],
    "booking": ["path.booking_id", "body.booking_id"],
    "request": ["path.request_id", "body.request_id"],
    "enterprise": ["path.enterprise_id", "body.enterprise_id", "body.to_enterprise_id"],
    "voucher": ["path.voucher_id", "body.voucher_id"],
    "programme": ["path.programme_id", "body.programme_id"],
    "round": ["path.round_id"],
}


def real_ids_config(base: str, admin_token: str, path: Path, probability: float) -> Path:
    """A schemathesis config that puts the demo's real ids into path parameters and body fields
    (with ``probability``; otherwise generated strings), so writes get past "not found" and
    reach validation and the services."""
    values: dict[str, set[str]] = {name: set() for name in ID_SOURCES}
    with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin_token}"}) as api:
        for name, (url, take) in ID_SOURCES.items():
            r = api.get(url)
            if r.status_code == 200:
                for item in r.json():
                    values[name].update(v for v in take(item) if v)
    lines = []
    for name, ids in sorted(values.items()):
        if not ids:
            continue
        lines.append(f"[dictionaries.{name}]\nvalues = {json.dumps(sorted(ids)[:200])}\n")
    lines.append("[parameters]")
    for name, keys in BINDINGS.items():
        if values[name]:
            lines += [f'"{k}" = {{ dictionary = "{name}", probability = {probability} }}' for k in keys]
    path.write_text("\n".join(lines) + "\n")
    return path


def _junit_counts(path: Path) -> dict[str, object]:
    """Operations, failing operations and failures by check (the failure messages' titles)."""
    root = ET.parse(path).getroot()
    operations = failing = 0
    by_check: Counter[str] = Counter()
    details: list[dict[str, str]] = []
    for case in root.iter("testcase"):
        operations += 1
        problems = case.findall("failure") + case.findall("error")
        if problems:
            failing += 1
        for p in problems:
            text = (p.get("message") or "") + "\n" + (p.text or "")
            kind = _check_of(text)
            kind = "error" if kind == "other" and p.tag == "error" else kind  # e.g. a network failure
            by_check[kind] += 1
            details.append({"operation": case.get("name", ""), "kind": kind, "text": text.strip()[:2000]})
    return {"operations": operations, "failing_operations": failing, "by_check": dict(by_check), "details": details}


def _check_of(text: str) -> str:
    for marker, kind in (
        ("Server error", "server_error"),
        ("Response violates schema", "schema_violation"),
        ("timed out", "timeout"),  # the request took longer than --request-timeout
        ("Timeout", "timeout"),
    ):
        if marker in text:
            return kind
    return "other"


def fuzz(base: str, who: str, token: str | None, args: argparse.Namespace, out: Path) -> dict[str, object]:
    junit = out / f"{who}.junit.xml"
    cmd = [
        sys.executable, "-m", "schemathesis.cli",
        *(["--config-file", str(args.config)] if token and args.config else []),
        "run", f"{base}/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(args.max_examples),
        "--phases", args.phases,
        "--request-timeout", str(args.request_timeout),
        "--seed", str(args.seed),
        "--workers", str(args.workers),
        "--no-shrink",
        "--continue-on-failure",
        "--suppress-health-check", "all",
        "--warnings", "off",
        "--output-truncate", "true",
        "--report", "junit,ndjson",
        "--report-junit-path", str(junit),
        "--report-ndjson-path", str(out / f"{who}.ndjson"),
    ]
    if token:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    t0 = time.monotonic()
    with open(out / f"{who}.log", "w") as log:
        # in the report folder: schemathesis keeps its cache of found failures in the working directory
        rc = subprocess.run(cmd, cwd=out, stdout=log, stderr=subprocess.STDOUT).returncode
    counts = _junit_counts(junit) if junit.exists() else {"operations": 0, "by_check": {"no_report": 1}}
    counts.update(identity=who, exit_code=rc, seconds=round(time.monotonic() - t0, 1),
                  cases=_cases(out / f"{who}.ndjson"))
    selected = re.search(r"Selected: (\d+)/", (out / f"{who}.log").read_text())
    if selected:  # the JUnit report counts the stateful phase as one more "operation"
        counts["operations"] = int(selected.group(1))
    return counts


def _cases(ndjson: Path) -> int | None:
    """Test cases run (requests sent), from schemathesis' event stream."""
    if not ndjson.exists():
        return None
    n = 0
    for line in ndjson.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        n += _count_interactions(event)
    return n


def _count_interactions(event: object) -> int:
    """Each ScenarioFinished event carries the recorder's interactions (one per request)."""
    if not isinstance(event, dict):
        return 0
    finished = event.get("ScenarioFinished")
    if isinstance(finished, dict):
        recorder = finished.get("recorder") or {}
        return len(recorder.get("interactions") or {})
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-examples", type=int, default=30, help="cases per operation and phase")
    ap.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    ap.add_argument("--request-timeout", type=float, default=20.0, help="seconds per request")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1, help="schemathesis workers (the server is one process)")
    ap.add_argument(
        "--real-ids", type=float, default=0.5,
        help="probability that a path parameter or body field naming an id gets a real demo id "
        "(roles only; the anonymous run keeps generated ids); 0 turns it off",
    )
    ap.add_argument("--as", dest="identities", default=",".join(IDENTITIES))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()  # schemathesis runs inside it
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="labshare-fuzz-") as tmp:
        url, tokens = build_demo(Path(tmp))
        with serve(url, args.out / "server.log") as base:
            tokens["operator"] = add_operator_token(base, tokens["programme_admin"])
            tokens["anonymous"] = ""
            args.config = (
                real_ids_config(base, tokens["programme_admin"], args.out / "schemathesis.toml", args.real_ids)
                if args.real_ids > 0
                else None
            )
            for who in args.identities.split(","):
                r = fuzz(base, who, tokens[who] or None, args, args.out)
                results.append(r)
                print(_row(r), flush=True)
    summary = {
        "command": " ".join([sys.executable, "-m", "bench.fuzz", *(argv if argv is not None else sys.argv[1:])]),
        "checks": CHECKS,
        "max_examples": args.max_examples,
        "phases": args.phases,
        "seed": args.seed,
        "results": results,
    }
    (args.out / "fuzz.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    failed = [r for r in results if r["by_check"] or r["exit_code"] != 0]
    print(f"reports in {args.out}; {'FAILED: ' + ', '.join(r['identity'] for r in failed) if failed else 'no failures'}")
    return 1 if failed else 0


def _row(r: dict[str, object]) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["by_check"].items())) or "none"
    return (
        f"{r['identity']:<18} operations {r['operations']:>4}  cases {r['cases']!s:>6}  "
        f"failing operations {r.get('failing_operations', 0):>3}  failures: {kinds}  ({r['seconds']} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
