"""Independent feasibility checker (shares no code with the model or the schedule).

A placement ``(request, instrument, start[, operator])`` is valid when:
the request and instrument exist; the request is placed once; the instrument is eligible;
``start`` is an integer; the blocked interval ``[start - setup, start + duration + cleanup)``
lies inside one availability window (with no buffers: the booking itself does); start >=
release and start + duration <= deadline; the blocked interval overlaps no busy interval and
no other placement's blocked interval on the instrument; an operator-run request names an
operator who can run the instrument, works a window containing ``[start, start + duration)``
and is not booked twice at once; at most ``capacity`` bookings run at once in a lab; voucher
spends (ceil(price_per_hour * duration / 60 * voucher_share), exact) stay within each
enterprise's and each group's budget; a placement's voucher (``voucher``) belongs to no other
placement, pays a positive amount for the request on that instrument, expires after the start,
and is named only for a voucher-funded request, which without ``cash_fallback`` must have one;
the vouchers of each cap pay at most its limit together; and the objective, if given, is the sum
of the weights.  Starts need not lie on the slot grid.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .fair_share import share_violations


def _get(p, name, default=None):
    if isinstance(p, dict):
        return p.get(name, default)
    return getattr(p, name, default)


def _spend(req, iid) -> int:
    price = Fraction(req.price_per_hour.get(iid, 0))
    return math.ceil(price * Fraction(req.duration) * Fraction(req.voucher_share) / 60)


def check(problem, assignments, objective=None) -> list[str]:
    """List of violations (empty when the assignments are feasible)."""
    v: list[str] = []
    reqs = {r.id: r for r in problem.requests}
    insts = {i.id: i for i in problem.instruments}
    ops = {o.id: o for o in problem.operators}
    ents = {e.id: e for e in problem.enterprises}
    groups = {g.id: g for g in problem.groups}
    labs = {lab.id: lab for lab in problem.labs}
    seen: set[str] = set()
    good = []  # (req, inst, start, operator)
    funded = []  # (req, inst id, start, voucher id or None)
    for p in assignments:
        rid, iid, s, oid = _get(p, "request"), _get(p, "instrument"), _get(p, "start"), _get(p, "operator")
        if rid not in reqs:
            v.append(f"unknown request {rid!r}")
            continue
        if rid in seen:
            v.append(f"request {rid} placed twice")
            continue
        seen.add(rid)
        if iid not in insts:
            v.append(f"request {rid}: unknown instrument {iid!r}")
            continue
        if isinstance(s, bool) or not isinstance(s, int):
            v.append(f"request {rid}: start {s!r} is not an integer")
            continue
        r, ins = reqs[rid], insts[iid]
        if iid not in r.eligible:
            v.append(f"request {rid}: instrument {iid} is not eligible")
        e = s + r.duration
        ba, bb = s - ins.setup, e + ins.cleanup
        if not any(wa <= ba and bb <= wb for wa, wb in ins.windows):
            if ins.setup or ins.cleanup:
                v.append(f"request {rid}: [{s}, {e}) with buffers [{ba}, {bb}) is outside every window of {iid}")
            else:
                v.append(f"request {rid}: [{s}, {e}) is outside every window of {iid}")
        if s < r.release:
            v.append(f"request {rid}: starts at {s} before its release {r.release}")
        dl = problem.horizon_minutes if r.deadline is None else r.deadline
        if e > dl:
            v.append(f"request {rid}: ends at {e} after its deadline {dl}")
        for qa, qb in ins.busy:
            if ba < qb and qa < bb:
                v.append(f"request {rid}: [{ba}, {bb}) on {iid} overlaps busy interval [{qa}, {qb})")
                break
        if r.needs_operator:
            if oid is None:
                v.append(f"request {rid}: operator-run but no operator assigned")
            elif oid not in ops:
                v.append(f"request {rid}: unknown operator {oid!r}")
                oid = None
            else:
                o = ops[oid]
                if iid not in o.instruments:
                    v.append(f"request {rid}: operator {oid} cannot run {iid}")
                if not any(wa <= s and e <= wb for wa, wb in o.windows):
                    v.append(f"request {rid}: [{s}, {e}) is outside every working window of operator {oid}")
        elif oid is not None and oid not in ops:
            v.append(f"request {rid}: unknown operator {oid!r}")
            oid = None
        good.append((r, ins, s, oid))
        funded.append((r, iid, s, _get(p, "voucher")))

    # Overlaps on instruments (with buffers).
    by_inst: dict[str, list] = {}
    for r, ins, s, _ in good:
        by_inst.setdefault(ins.id, []).append((s - ins.setup, s + r.duration + ins.cleanup, r.id))
    for iid, items in by_inst.items():
        v += _pairwise_overlaps(items, f"on instrument {iid}")
    # Operators.
    by_op: dict[str, list] = {}
    for r, _, s, oid in good:
        if oid is not None:
            by_op.setdefault(oid, []).append((s, s + r.duration, r.id))
    for oid, items in by_op.items():
        v += _pairwise_overlaps(items, f"for operator {oid}")
    # Labs.
    by_lab: dict[str, list] = {}
    for r, ins, s, _ in good:
        if ins.lab is not None and ins.lab in labs:
            by_lab.setdefault(ins.lab, []).append((s, s + r.duration, r.id))
    for lid, items in by_lab.items():
        cap = labs[lid].capacity
        events = sorted([(a, 1) for a, _, _ in items] + [(b, -1) for _, b, _ in items])
        level = 0
        for t, d in events:
            level += d
            if level > cap:
                v.append(f"lab {lid}: {level} bookings at time {t} exceed capacity {cap}")
                break
    # Budgets.
    spent_e: dict[str, int] = {}
    for r, ins, _, _ in good:
        spent_e[r.enterprise] = spent_e.get(r.enterprise, 0) + _spend(r, ins.id)
    spent_g: dict[str, int] = {}
    for eid, amount in spent_e.items():
        ent = ents.get(eid)
        if ent is None:
            continue
        if ent.voucher_budget is not None and amount > ent.voucher_budget:
            v.append(f"enterprise {eid}: voucher spend {amount} exceeds budget {ent.voucher_budget}")
        if ent.group is not None:
            spent_g[ent.group] = spent_g.get(ent.group, 0) + amount
    for gid, amount in spent_g.items():
        g = groups.get(gid)
        if g is not None and g.voucher_budget is not None and amount > g.voucher_budget:
            v.append(f"group {gid}: voucher spend {amount} exceeds budget {g.voucher_budget}")
    v += _voucher_violations(problem, funded)
    v += share_violations(problem, [{"request": r.id, "instrument": ins.id} for r, ins, _, _ in good])
    if objective is not None:
        total = sum(r.weight for r, _, _, _ in good)
        if objective != total:
            v.append(f"objective mismatch: reported {objective}, weights of placed requests sum to {total}")
    return v


def _voucher_violations(problem, funded) -> list[str]:
    out = []
    vouchers = {x.id: x for x in getattr(problem, "vouchers", None) or []}
    paid: dict[str, int] = {}
    for r, iid, s, vid in funded:
        funding = getattr(r, "funding", "cash")
        if vid is None:
            if funding == "voucher" and not getattr(r, "cash_fallback", False):
                out.append(f"request {r.id}: voucher-funded without cash fallback, but placed with no voucher")
            continue
        if funding != "voucher":
            out.append(f"request {r.id}: paid in cash, but placed with voucher {vid}")
            continue
        x = vouchers.get(vid)
        if x is None:
            out.append(f"request {r.id}: unknown voucher {vid!r}")
            continue
        if vid in paid:
            out.append(f"voucher {vid} funds more than one request")
            continue
        amount = x.pays.get(r.id, {}).get(iid, 0)
        if amount <= 0:
            out.append(f"request {r.id}: voucher {vid} cannot pay for it on {iid}")
        if x.enterprise != r.enterprise:
            out.append(f"request {r.id}: voucher {vid} belongs to {x.enterprise}, not {r.enterprise}")
        if x.expires is not None and s >= x.expires:
            out.append(f"request {r.id}: starts at {s}, not before voucher {vid} expires at {x.expires}")
        paid[vid] = max(0, amount)
    for c in getattr(problem, "caps", None) or []:
        total = sum(paid.get(vid, 0) for vid in set(c.vouchers))
        if total > c.limit:
            out.append(f"cap {c.id}: vouchers pay {total}, above its limit {c.limit}")
    return out


def _pairwise_overlaps(items, where: str) -> list[str]:
    out = []
    items = sorted(items)
    reach_end, reach_id = None, None
    for a, b, rid in items:
        if reach_end is not None and a < reach_end:
            out.append(f"requests {reach_id} and {rid} overlap {where}")
        if reach_end is None or b > reach_end:
            reach_end, reach_id = b, rid
    return out
