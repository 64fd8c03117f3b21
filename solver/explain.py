"""Why was a request left out?  Stable codes plus a human message.

Evaluated against the final schedule, in this order:

``no_window``            no eligible instrument has a free window piece (windows minus busy
                         time, with buffers) long enough between release and deadline.
``operator_unavailable`` the request is operator-run and no qualified operator works during a
                         usable window, or every such time is taken by the operators' other
                         bookings (holders named).
``voucher_budget``       it would fit the schedule, but its voucher spend exceeds what is left
                         of its enterprise's (or controller group's) budget (named).
``capacity_taken``       every usable start is taken by other bookings (holders named: the
                         placed requests on its eligible instruments, or in a full lab, that
                         overlap the times it could have used).
``not_selected``         it would fit and is affordable (should not happen after the final
                         insertion pass; kept as a safe default).
"""

from __future__ import annotations

from .problem import Problem, Request, Unplaced
from .schedule import Schedule
from .windows import first_on_grid


def explain_request(problem: Problem, sched: Schedule, r: Request) -> Unplaced:
    st = sched.static
    g = st.grid
    alts = st.alternatives(r)
    dl = problem.deadline_of(r)
    if not alts:
        if r.needs_operator and any(first_on_grid(st.instrument_starts(r, i), g) is not None
                                    for i in r.eligible):
            return Unplaced(r.id, "operator_unavailable",
                            f"no qualified operator works a {r.duration}-minute stretch inside a free "
                            f"window of {', '.join(r.eligible)} between {r.release} and {dl}")
        return Unplaced(r.id, "no_window",
                        f"no eligible instrument ({', '.join(r.eligible) or 'none'}) has a free window "
                        f"of {r.duration} minutes (plus buffers) between release {r.release} and "
                        f"deadline {dl}")
    blocker = None
    for alt in alts:
        if first_on_grid(sched.free_starts(alt), g) is not None:
            b = sched.budget_blocker(r, alt.spend)
            if b is None:
                return Unplaced(r.id, "not_selected",
                                "fits the schedule and the budget but was not selected")
            blocker = blocker or (b, alt.spend)
    if blocker is not None:
        kind, name = blocker[0].split(":", 1)
        return Unplaced(r.id, "voucher_budget",
                        f"voucher budget of {kind} {name} exhausted: needs {blocker[1]} fen, "
                        f"not enough left", budget_holder=blocker[0])
    if r.needs_operator:
        op_holders: list[str] = []
        for alt in alts:
            if first_on_grid(sched.free_starts(alt, use_operator=False), g) is not None:
                tl = sched.oper.get(alt.operator)
                if tl is not None:
                    lo, hi = alt.starts[0][0], alt.starts[-1][1] + r.duration
                    op_holders += [rid for _, _, rid in tl.meeting(lo, hi)]
        if op_holders:
            holders = sorted(set(op_holders))
            return Unplaced(r.id, "operator_unavailable",
                            "the instrument is free but every qualified operator is busy with "
                            + ", ".join(holders), holders=holders)
    holders: set[str] = set()
    for alt in alts:
        holders.update(rid for _, _, rid in sched.instrument_holders(alt))
        lab = problem.instrument_by_id[alt.instrument].lab
        if lab in sched.lab:
            lo, hi = alt.starts[0][0], alt.starts[-1][1] + r.duration
            holders.update(rid for _, _, rid in sched.lab[lab].meeting(lo, hi))
    hs = sorted(holders)
    return Unplaced(r.id, "capacity_taken",
                    "every usable time on " + ", ".join(dict.fromkeys(a.instrument for a in alts))
                    + " is taken by " + (", ".join(hs) if hs else "other bookings"), holders=hs)


def explain_unplaced(problem: Problem, sched: Schedule) -> list[Unplaced]:
    return [explain_request(problem, sched, r) for r in problem.requests if r.id not in sched.placed]
