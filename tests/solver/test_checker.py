from helpers import Enterprise, Fraction, Group, Instrument, Lab, Operator, Placement, Problem, Request, check


def problem():
    return Problem(
        horizon_minutes=2880, slot_minutes=30,
        instruments=[Instrument("I0", [(480, 720), (780, 1020)], busy=[(540, 600)]),
                     Instrument("I1", [(480, 1020)], setup=30, cleanup=30, lab="L"),
                     Instrument("I2", [(480, 1020)], lab="L")],
        operators=[Operator("O0", [(480, 720)], ["I1", "I2"])],
        enterprises=[Enterprise("E0", voucher_budget=30000, group="G"), Enterprise("E1", group="G"),
                     Enterprise("E2")],
        groups=[Group("G", voucher_budget=50000)],
        labs=[Lab("L", 1)],
        requests=[
            Request("R0", "E0", 60, ["I0"], release=0, deadline=2880, weight=4,
                    price_per_hour={"I0": 40000}, voucher_share=Fraction(1, 2)),
            Request("R1", "E0", 60, ["I0", "I1"], release=600, deadline=1020, weight=3,
                    price_per_hour={"I0": 40000, "I1": 40000}, voucher_share=Fraction(1, 2)),
            Request("R2", "E1", 60, ["I1"], weight=2, needs_operator=True,
                    price_per_hour={"I1": 60000}, voucher_share=Fraction(1, 2)),
            Request("R3", "E2", 60, ["I2"], weight=1),
        ])


def P(r, i, s, o=None):
    return Placement(r, i, s, o)


def one(violations, needle):
    assert any(needle in v for v in violations), violations


def test_valid_solution_passes():
    pr = problem()
    sol = [P("R0", "I0", 480), P("R2", "I1", 510, "O0"), P("R3", "I2", 840)]
    assert check(pr, sol, objective=7) == []


def test_off_grid_start_is_not_a_violation():
    assert check(problem(), [P("R0", "I0", 607)]) == []


def test_unknown_request_and_instrument():
    one(check(problem(), [P("RX", "I0", 480)]), "unknown request")
    one(check(problem(), [P("R0", "IX", 480)]), "unknown instrument")


def test_placed_twice():
    one(check(problem(), [P("R0", "I0", 480), P("R0", "I0", 780)]), "placed twice")


def test_ineligible():
    one(check(problem(), [P("R0", "I2", 480)]), "not eligible")


def test_outside_window():
    one(check(problem(), [P("R0", "I0", 690)]), "outside every window")
    one(check(problem(), [P("R0", "I0", 1020)]), "outside every window")


def test_buffers_outside_window():
    one(check(problem(), [P("R1", "I1", 960)]), "with buffers")


def test_release_and_deadline():
    one(check(problem(), [P("R1", "I0", 480)]), "before its release")
    one(check(problem(), [P("R1", "I0", 990)]), "after its deadline")


def test_overlaps_busy():
    one(check(problem(), [P("R0", "I0", 510)]), "overlaps busy")


def test_overlaps_other_placement_including_buffers():
    one(check(problem(), [P("R0", "I0", 780), P("R1", "I0", 810)]), "overlap on instrument I0")
    # I1 has 30 min set-up and clean-up: R1 at 600-660 blocks 570-690; R2 at 690 needs 660-780.
    one(check(problem(), [P("R1", "I1", 600), P("R2", "I1", 690, "O0")]), "overlap on instrument I1")


def test_operator_violations():
    one(check(problem(), [P("R2", "I1", 510)]), "no operator assigned")
    one(check(problem(), [P("R2", "I1", 780, "O0")]), "working window")
    one(check(problem(), [P("R2", "I1", 510, "OX")]), "unknown operator")
    pr = problem()
    pr.operators[0].instruments = ["I2"]
    one(check(pr, [P("R2", "I1", 510, "O0")]), "cannot run")


def test_operator_double_booked():
    pr = problem()
    pr.requests.append(Request("R4", "E2", 60, ["I2"], needs_operator=True))
    pr.labs[0].capacity = 3
    one(check(pr, [P("R2", "I1", 510, "O0"), P("R4", "I2", 540, "O0")]), "for operator O0")


def test_lab_capacity():
    one(check(problem(), [P("R2", "I1", 510, "O0"), P("R3", "I2", 540)]), "exceed capacity")


def test_enterprise_budget():
    # R0 spends ceil(40000 * 60/60 * 1/2) = 20000, R1 also 20000: 40000 > 30000.
    one(check(problem(), [P("R0", "I0", 480), P("R1", "I0", 780)]), "enterprise E0")


def test_group_budget():
    pr = problem()
    pr.enterprises[0].voucher_budget = None
    # E0 spends 20000 + 20000, E1 30000: group 70000 > 50000.
    one(check(pr, [P("R0", "I0", 480), P("R1", "I0", 780), P("R2", "I1", 510, "O0")]), "group G")


def test_spend_is_exact_and_rounds_up():
    pr = Problem(horizon_minutes=1440, instruments=[Instrument("I0", [(0, 1440)])],
                 enterprises=[Enterprise("E0", voucher_budget=34)],
                 requests=[Request("R0", "E0", 50, ["I0"], price_per_hour={"I0": 101},
                                   voucher_share=Fraction("0.4"))])
    # 101 * 50/60 * 0.4 = 33.67 -> 34 (fits exactly); a budget of 33 does not.
    assert check(pr, [P("R0", "I0", 0)]) == []
    pr.enterprises[0].voucher_budget = 33
    one(check(pr, [P("R0", "I0", 0)]), "exceeds budget")


def test_objective_mismatch():
    one(check(problem(), [P("R0", "I0", 480)], objective=5), "objective mismatch")


def test_non_integer_start():
    one(check(problem(), [{"request": "R0", "instrument": "I0", "start": 480.5}]), "not an integer")
