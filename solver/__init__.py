"""labshare allocation solver: pure Python + OR-Tools, no database, no web, no datetimes.

Times are integer minutes from the horizon start, money integer fen.  See
:mod:`solver.model` for the formulation, :mod:`solver.pipeline` for how a solve runs, and
:mod:`solver.io` for the JSON format.
"""

from .baselines import fcfs, value_greedy
from .checker import check
from .io import allocation_to_json, assignments_from_json, problem_from_json, problem_to_json
from .pipeline import solve
from .place import place
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
                      Unplaced,
                      Voucher,
                      WeightConfig,
                      voucher_spend,
                      weight_of,
)

__all__ = [
    "Allocation", "Cap", "Enterprise", "Group", "Instrument", "Lab", "Operator", "Placement", "Problem",
    "Request", "Unplaced", "Voucher", "WeightConfig", "allocation_to_json", "assignments_from_json", "check",
    "fcfs", "place", "problem_from_json", "problem_to_json", "solve", "value_greedy",
    "voucher_spend", "weight_of",
]
