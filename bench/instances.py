"""Seeded benchmark instances for the allocation solver.

Sizes: small ≈ 50 requests / 5 instruments / 1 week, medium ≈ 1,000 / 50 / 2 weeks,
large ≈ 10,000 / 300 / 4 weeks; each at normal load or oversubscribed (demand ≈ 1.5 ×
capacity on the popular categories).  Week days have windows 08:30–12:00 and 13:30–17:30;
instruments come in categories (requests are eligible on 1–3 instruments of one category);
some maintenance/busy blocks (sometimes overlapping), set-up/clean-up buffers on some
instruments, operator-run requests with per-category operators, a few capacity-limited labs,
voucher budgets of which some bind, controller groups, preferred starts on most requests.
Durations 30 min – 4 h on the 30-minute grid.  Time 0 is a Monday 00:00.
"""

from __future__ import annotations

import random
from fractions import Fraction

from solver.problem import (
    Enterprise,
    Group,
    Instrument,
    Lab,
    Operator,
    Problem,
    Request,
    WeightConfig,
    voucher_spend,
    weight_of,
)

SIZES = {
    "small": dict(requests=50, instruments=5, days=7),
    "medium": dict(requests=1000, instruments=50, days=14),
    "large": dict(requests=10000, instruments=300, days=28),
}
DAY = 1440
WINDOWS = [(510, 720), (810, 1050)]  # 08:30-12:00, 13:30-17:30
SLOT = 30


def _weekday_windows(days: int, skip: set[int] = frozenset()) -> list[tuple[int, int]]:
    return [(d * DAY + a, d * DAY + b) for d in range(days) if d % 7 < 5 and d not in skip
            for a, b in WINDOWS]


def generate(size: str = "small", oversubscribed: bool = False, seed: int = 0) -> Problem:
    spec = SIZES[size]
    rng = random.Random(f"{size}-{oversubscribed}-{seed}")
    n_req, n_inst, days = spec["requests"], spec["instruments"], spec["days"]
    horizon = days * DAY
    # Categories of 2-7 instruments.
    cats: list[list[int]] = []
    k = 0
    while k < n_inst:
        m = min(n_inst - k, rng.randint(2, 3) if n_inst <= 5 else rng.randint(3, 7))
        cats.append(list(range(k, k + m)))
        k += m
    windows_all = _weekday_windows(days)
    instruments: list[Instrument] = []
    price = {}
    for i in range(n_inst):
        busy = []
        if rng.random() < 0.5:  # maintenance block
            w = rng.choice(windows_all)
            a = w[0] + SLOT * rng.randint(0, 2)
            busy.append((a, min(w[1], a + SLOT * rng.randint(2, 8))))
        for _ in range(rng.randint(0, days // 3)):  # confirmed bookings
            w = rng.choice(windows_all)
            a = w[0] + SLOT * rng.randint(0, (w[1] - w[0]) // SLOT - 1)
            busy.append((a, min(w[1], a + SLOT * rng.randint(1, 4))))
        if busy and rng.random() < 0.3:  # an overlapping duplicate
            a, b = busy[0]
            busy.append((a + SLOT if b - a > SLOT else a, b + SLOT))
        buf = rng.random() < 0.15
        instruments.append(Instrument(id=f"I{i}", windows=list(windows_all), busy=busy,
                                      setup=SLOT if buf else 0, cleanup=SLOT if buf and rng.random() < 0.5 else 0))
        price[f"I{i}"] = 1000 * rng.randint(10, 150)
    # Labs: some categories share a lab with fewer places than instruments.
    labs = []
    for c, members in enumerate(cats):
        if len(members) >= 3 and rng.random() < 0.2:
            labs.append(Lab(id=f"L{c}", capacity=len(members) - 1))
            for i in members:
                instruments[i].lab = f"L{c}"
    # Operators: 1-2 per category, one weekday off per week.
    operators = []
    cat_ops: dict[int, list[str]] = {}
    for c, members in enumerate(cats):
        for q in range(rng.randint(1, 2)):
            off = {d for d in range(days) if d % 7 == rng.randint(0, 4)}
            oid = f"O{c}_{q}"
            operators.append(Operator(id=oid, windows=_weekday_windows(days, off),
                                      instruments=[f"I{i}" for i in members]))
            cat_ops.setdefault(c, []).append(oid)
    # Demand per category.
    cap = [len(m) for m in cats]
    mean_dur = 3.96 * SLOT / 60  # hours
    week_hours = len(windows_all) / 2 * 7.5
    if oversubscribed:
        order = list(range(len(cats)))
        rng.shuffle(order)
        popular = set(order[:max(1, round(0.3 * len(cats)))])
        pop_dem = {c: 1.5 * cap[c] * week_hours for c in popular}
        rest = max(0.05 * n_req * mean_dur, n_req * mean_dur - sum(pop_dem.values()))
        others = [c for c in range(len(cats)) if c not in popular]
        ws = {c: cap[c] * rng.uniform(0.5, 1.5) for c in others}
        tot = sum(ws.values()) or 1
        demand = {**pop_dem, **{c: rest * ws[c] / tot for c in others}}
    else:
        ws = {c: cap[c] * rng.uniform(0.6, 1.4) for c in range(len(cats))}
        tot = sum(ws.values())
        demand = {c: n_req * mean_dur * ws[c] / tot for c in ws}
    cat_list = list(demand)
    cat_w = [demand[c] for c in cat_list]
    # Enterprises.
    n_ent = max(5, n_req // 8)
    ent_share = {}
    ent_fav = {}
    enterprises = []
    for e in range(n_ent):
        eid = f"E{e}"
        ent_share[eid] = rng.choice([Fraction(0), Fraction(0), Fraction(2, 5), Fraction(1, 2), Fraction(3, 5)])
        ent_fav[eid] = rng.choices(cat_list, weights=cat_w, k=rng.randint(1, 2))
        enterprises.append(Enterprise(id=eid))
    fav_of_cat: dict[int, list[str]] = {}
    for eid, fav in ent_fav.items():
        for c in fav:
            fav_of_cat.setdefault(c, []).append(eid)
    ent_ids = [e.id for e in enterprises]
    wcfg = WeightConfig()
    requests = []
    durations_w = [10, 20, 15, 20, 10, 12, 5, 8]
    for r in range(n_req):
        c = rng.choices(cat_list, weights=cat_w)[0]
        eid = rng.choice(fav_of_cat[c]) if c in fav_of_cat and rng.random() < 0.8 else rng.choice(ent_ids)
        members = cats[c]
        n_el = min(len(members), rng.choices([1, 2, 3], weights=[3, 4, 3])[0])
        eligible = [f"I{i}" for i in sorted(rng.sample(members, n_el))]
        dur = SLOT * rng.choices(range(1, 9), weights=durations_w)[0]
        release = SLOT * rng.randint(0, max(0, (horizon - 3 * DAY) // SLOT))
        deadline = min(horizon, release + DAY * rng.randint(3, 10))
        needs_op = rng.random() < 0.15
        share = ent_share[eid]
        weight = weight_of(rng.choices([0, 1, 2, 3], weights=[4, 3, 2, 1])[0], rng.randint(100, 130),
                           rng.randint(0, 30), share > 0, wcfg)
        pref = None
        if rng.random() < 0.6:
            ws_ = [w for w in windows_all if w[0] >= release and w[0] + dur <= min(deadline, w[1])]
            if ws_:
                w = rng.choice(ws_)
                pref = w[0] + SLOT * rng.randint(0, (w[1] - w[0] - dur) // SLOT)
        requests.append(Request(
            id=f"R{r}", enterprise=eid, duration=dur, eligible=eligible, release=release,
            deadline=deadline, weight=weight, price_per_hour={i: price[i] for i in eligible},
            voucher_share=share, needs_operator=needs_op and bool(cat_ops.get(c)),
            preferred_start=pref, submitted=release - DAY * rng.randint(3, 14)))
    # Budgets: ~35% of voucher-funded enterprises bind (40-80% of what they could spend).
    potential: dict[str, int] = {}
    for r in requests:
        potential[r.enterprise] = potential.get(r.enterprise, 0) + max(voucher_spend(r, i) for i in r.eligible)
    for e in enterprises:
        if ent_share[e.id] == 0:
            e.voucher_budget = None if rng.random() < 0.5 else 50_000_000
        elif rng.random() < 0.35 and potential.get(e.id, 0) > 0:
            e.voucher_budget = int(potential[e.id] * rng.uniform(0.4, 0.8))
        else:
            e.voucher_budget = 50_000_000
    # Controller groups: ~10% of enterprises in groups of 2-3 with a binding group cap.
    groups = []
    pool = ent_ids[:]
    rng.shuffle(pool)
    ng = max(1, n_ent // 30)
    for gi in range(ng):
        members = [pool.pop() for _ in range(min(len(pool), rng.randint(2, 3)))]
        if len(members) < 2:
            break
        gid = f"G{gi}"
        for eid in members:
            enterprises[int(eid[1:])].group = gid
        pot = sum(potential.get(m, 0) for m in members)
        groups.append(Group(id=gid, voucher_budget=int(pot * 0.6) if pot else None))
    return Problem(horizon_minutes=horizon, slot_minutes=SLOT, instruments=instruments,
                   requests=requests, enterprises=enterprises, operators=operators,
                   groups=groups, labs=labs)
