"""Explanations on hand-built cases."""

from helpers import FAST, Enterprise, Fraction, Group, Instrument, Operator, Problem, Request

from solver import fcfs, solve


def reasons(alloc):
    return {u.request: u for u in alloc.unplaced}


def test_no_window():
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(480, 600)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("R0", "E0", 180, ["I0"]),            # too long for the window
                           Request("R1", "E0", 60, ["I0"], release=600)])  # after the window
    u = reasons(solve(pr, **FAST))
    assert u["R0"].code == "no_window" and u["R1"].code == "no_window"


def test_capacity_taken_names_holders():
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(480, 600)])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("BIG", "E0", 120, ["I0"], weight=5),
                           Request("SMALL", "E0", 60, ["I0"], weight=1)])
    u = reasons(solve(pr, **FAST))
    assert u["SMALL"].code == "capacity_taken"
    assert u["SMALL"].holders == ["BIG"]
    assert "BIG" in u["SMALL"].message


def test_voucher_budget_names_enterprise_and_group():
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(480, 1020)])],
                 enterprises=[Enterprise("E0", voucher_budget=25000), Enterprise("E1", group="G")],
                 groups=[Group("G", voucher_budget=10000)],
                 requests=[Request(f"A{k}", "E0", 60, ["I0"], price_per_hour={"I0": 40000},
                                   voucher_share=Fraction(1, 2)) for k in range(2)]
                 + [Request("B", "E1", 60, ["I0"], price_per_hour={"I0": 40000},
                            voucher_share=Fraction(1, 2))])
    a = solve(pr, **FAST)
    u = reasons(a)
    assert len([p for p in a.placements if p.request.startswith("A")]) == 1
    (ua,) = [x for k, x in u.items() if k.startswith("A")]
    assert ua.code == "voucher_budget" and ua.budget_holder == "enterprise:E0" and "E0" in ua.message
    assert u["B"].code == "voucher_budget" and u["B"].budget_holder == "group:G"


def test_operator_unavailable():
    pr = Problem(horizon_minutes=1440,
                 instruments=[Instrument("I0", [(480, 720)]), Instrument("I1", [(480, 720)])],
                 operators=[Operator("O0", [(480, 540)], ["I0", "I1"]), Operator("O1", [(900, 960)], ["I0"])],
                 enterprises=[Enterprise("E0")],
                 requests=[Request("A", "E0", 60, ["I0"], needs_operator=True, weight=5),
                           Request("B", "E0", 60, ["I1"], needs_operator=True, weight=1),
                           Request("C", "E0", 60, ["I0"], needs_operator=True, release=600)])
    u = reasons(fcfs(pr))
    assert u["B"].code == "operator_unavailable" and u["B"].holders == ["A"]
    assert u["C"].code == "operator_unavailable" and not u["C"].holders
