"""JSON format (``format: 1``) of problems and solutions.

Problem::

    {"format": 1, "horizon_minutes": 40320, "slot_minutes": 30,
     "instruments": [{"id", "windows": [[a, b], ...], "busy": [[a, b], ...],
                      "lab"?, "setup"?, "cleanup"?}],
     "operators"?: [{"id", "windows", "instruments": [...]}],
     "enterprises": [{"id", "voucher_budget"? (fen, missing = unlimited), "group"?}],
     "groups"?: [{"id", "voucher_budget"?}],
     "labs"?: [{"id", "capacity"}],
     "requests": [{"id", "enterprise", "duration", "release"?, "deadline"?, "eligible",
                   "weight"?, "price_per_hour"?: {instrument: fen}, "voucher_share"?,
                   "needs_operator"?, "preferred_start"?, "submitted"?,
                   "funding"? ("cash" | "voucher"), "cash_fallback"?}],
     "vouchers"?: [{"id", "enterprise", "pays": {request: {instrument: fen}}, "expires"?}],
     "caps"?: [{"id", "limit", "vouchers": [...]}],
     "max_share_bp"?: 5000}

Solution::

    {"assignments": [{"request", "instrument", "start", "operator"?, "voucher"?}], "objective",
     "upper_bound", "status", "gap", "method", "unplaced": [{"request", "code", "message",
     "holders", "budget_holder"}], "timings": {...}, "stats": {...}}

``voucher_share`` may be a number or a string ("1/2"); it is read exactly via
``Fraction(str(x))``.
"""

from __future__ import annotations

import json
from fractions import Fraction

from .problem import (
    Allocation,
    Cap,
    Enterprise,
    Group,
    Instrument,
    Lab,
    Operator,
    Placement,
    Problem,
    Request,
    Voucher,
)


def _intervals(xs):
    return [(int(a), int(b)) for a, b in (xs or [])]


def _int(x, what):
    if isinstance(x, float):
        if not x.is_integer():
            raise ValueError(f"{what} must be an integer, got {x}")
        return int(x)
    return int(x)


def problem_from_json(data) -> Problem:
    """Build a :class:`Problem` from a dict or a JSON string."""
    if isinstance(data, (str, bytes)):
        data = json.loads(data)
    fmt = data.get("format", 1)
    if fmt != 1:
        raise ValueError(f"unsupported format {fmt}")
    instruments = [Instrument(id=str(i["id"]), windows=_intervals(i.get("windows")),
                              busy=_intervals(i.get("busy")), lab=i.get("lab"),
                              setup=int(i.get("setup", 0)), cleanup=int(i.get("cleanup", 0)))
                   for i in data.get("instruments", [])]
    operators = [Operator(id=str(o["id"]), windows=_intervals(o.get("windows")),
                          instruments=[str(x) for x in o.get("instruments", [])])
                 for o in data.get("operators", [])]
    enterprises = [Enterprise(id=str(e["id"]),
                              voucher_budget=None if e.get("voucher_budget") is None else _int(e["voucher_budget"], "voucher_budget"),
                              group=e.get("group"))
                   for e in data.get("enterprises", [])]
    groups = [Group(id=str(g["id"]),
                    voucher_budget=None if g.get("voucher_budget") is None else _int(g["voucher_budget"], "voucher_budget"))
              for g in data.get("groups", [])]
    labs = [Lab(id=str(lab["id"]), capacity=int(lab["capacity"])) for lab in data.get("labs", [])]
    requests = []
    for r in data.get("requests", []):
        requests.append(Request(
            id=str(r["id"]), enterprise=str(r.get("enterprise", "")),
            duration=_int(r["duration"], "duration"),
            eligible=[str(x) for x in r.get("eligible", [])],
            release=_int(r.get("release", 0), "release"),
            deadline=None if r.get("deadline") is None else _int(r["deadline"], "deadline"),
            weight=_int(r.get("weight", 1), "weight"),
            price_per_hour={str(k): _int(v, "price_per_hour") for k, v in (r.get("price_per_hour") or {}).items()},
            voucher_share=Fraction(str(r.get("voucher_share", 0))),
            needs_operator=bool(r.get("needs_operator", False)),
            preferred_start=None if r.get("preferred_start") is None else _int(r["preferred_start"], "preferred_start"),
            submitted=r.get("submitted"),
            funding=str(r.get("funding", "cash")),
            cash_fallback=bool(r.get("cash_fallback", False)),
        ))
    vouchers = [Voucher(id=str(x["id"]), enterprise=str(x["enterprise"]),
                        pays={str(rid): {str(i): _int(a, "pays") for i, a in by.items()}
                              for rid, by in (x.get("pays") or {}).items()},
                        expires=None if x.get("expires") is None else _int(x["expires"], "expires"))
                for x in data.get("vouchers", [])]
    caps = [Cap(id=str(c["id"]), limit=_int(c["limit"], "limit"), vouchers=[str(v) for v in c.get("vouchers", [])])
            for c in data.get("caps", [])]
    return Problem(horizon_minutes=_int(data["horizon_minutes"], "horizon_minutes"),
                   slot_minutes=_int(data.get("slot_minutes", 30), "slot_minutes"),
                   instruments=instruments, requests=requests, enterprises=enterprises,
                   operators=operators, groups=groups, labs=labs, vouchers=vouchers, caps=caps,
                   max_share_bp=None if data.get("max_share_bp") is None else _int(data["max_share_bp"], "max_share_bp"))


def _share(x: Fraction):
    x = Fraction(x)
    if x.denominator == 1:
        return x.numerator
    f = float(x)
    if Fraction(str(f)) == x:
        return f
    return f"{x.numerator}/{x.denominator}"


def problem_to_json(problem: Problem) -> dict:
    def ins(i):
        d = {"id": i.id, "windows": [list(w) for w in i.windows], "busy": [list(b) for b in i.busy]}
        if i.lab is not None:
            d["lab"] = i.lab
        if i.setup:
            d["setup"] = i.setup
        if i.cleanup:
            d["cleanup"] = i.cleanup
        return d

    def req(r):
        d = {"id": r.id, "enterprise": r.enterprise, "duration": r.duration, "release": r.release,
             "deadline": r.deadline, "eligible": list(r.eligible), "weight": r.weight,
             "price_per_hour": dict(r.price_per_hour), "voucher_share": _share(r.voucher_share)}
        if r.needs_operator:
            d["needs_operator"] = True
        if r.preferred_start is not None:
            d["preferred_start"] = r.preferred_start
        if r.submitted is not None:
            d["submitted"] = r.submitted
        if r.funding != "cash":
            d["funding"] = r.funding
        if r.cash_fallback:
            d["cash_fallback"] = True
        return d

    out = {"format": 1, "horizon_minutes": problem.horizon_minutes,
           "slot_minutes": problem.slot_minutes,
           "instruments": [ins(i) for i in problem.instruments],
           "enterprises": [{k: v for k, v in {"id": e.id, "voucher_budget": e.voucher_budget,
                                               "group": e.group}.items() if v is not None}
                           for e in problem.enterprises],
           "requests": [req(r) for r in problem.requests]}
    if problem.operators:
        out["operators"] = [{"id": o.id, "windows": [list(w) for w in o.windows],
                             "instruments": list(o.instruments)} for o in problem.operators]
    if problem.groups:
        out["groups"] = [{k: v for k, v in {"id": g.id, "voucher_budget": g.voucher_budget}.items()
                          if v is not None} for g in problem.groups]
    if problem.labs:
        out["labs"] = [{"id": lab.id, "capacity": lab.capacity} for lab in problem.labs]
    if problem.vouchers:
        out["vouchers"] = [{k: v for k, v in {"id": x.id, "enterprise": x.enterprise,
                                               "pays": {r: dict(by) for r, by in x.pays.items()},
                                               "expires": x.expires}.items() if v is not None}
                           for x in problem.vouchers]
    if problem.caps:
        out["caps"] = [{"id": c.id, "limit": c.limit, "vouchers": list(c.vouchers)} for c in problem.caps]
    if problem.max_share_bp is not None:
        out["max_share_bp"] = problem.max_share_bp
    return out


def placement_to_json(p: Placement) -> dict:
    d = {"request": p.request, "instrument": p.instrument, "start": p.start}
    if p.operator is not None:
        d["operator"] = p.operator
    if p.voucher is not None:
        d["voucher"] = p.voucher
    return d


def allocation_to_json(a: Allocation) -> dict:
    return {
        "assignments": [placement_to_json(p) for p in a.placements],
        "objective": a.objective,
        "upper_bound": a.upper_bound,
        "gap": a.gap,
        "status": a.status,
        "method": a.method,
        "unplaced": [{"request": u.request, "code": u.code, "message": u.message,
                      "holders": u.holders, "budget_holder": u.budget_holder} for u in a.unplaced],
        "timings": {k: round(v, 4) for k, v in a.timings.items()},
        "stats": a.stats,
    }


def assignments_from_json(data) -> list[dict]:
    if isinstance(data, (str, bytes)):
        data = json.loads(data)
    return list(data.get("assignments", []))
