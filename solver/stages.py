"""The stages of :func:`solver.solve` and their time shares, in one place.

The docstrings and comments of :mod:`solver.pipeline` and its neighbours name a stage by its
``name`` here (``cp_sat``, ``ruin_recreate``, ...).  ``progress`` lists the stage strings it
passes to the ``progress(stage, info)`` callback and ``timing`` its key in
``Allocation.timings``: both are read by callers (the round's progress bar, stored round
metrics, the benchmark JSON) and keep their historical spelling.  :func:`table` renders the
table as Markdown.

:data:`SHARES` holds the default time shares; :func:`solver.solve` takes each as a keyword
parameter (its default read from here), so a caller may still change them per call.  ``T``
below is ``time_limit``; "the end" is ``T`` seconds after the call started.  Measured effects of
these choices are in ``bench/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shares:
    """Default time shares of :func:`solver.solve` (each one a parameter of the same name with
    ``_share`` appended, except where noted)."""

    bound: float = 0.1           # ``bounds``: of the time left before the main deadline
    knapsack_small: float = 0.6  # ``knapsack`` up to ``knapsack_max_requests`` requests ...
    knapsack_large: float = 0.3  # ... and above (``knapsack_share=None`` picks one)
    knapsack_max_requests: int = 3000
    component: float = 0.65      # ``components``: until this share of T from the start
    component_lp: float = 0.5    # ``components``: of a component's time, for its pattern LP
    #                              (``lp_share`` of :mod:`solver.component_search`)
    dive: float = 0.4            # a dive: of the search time left (``patterns`` child, ``components``)
    pattern: float = 0.0         # ``patterns`` inline (0: in the background child instead)
    prove: float = 0.05          # ``cp_sat``: per small component when the LNS follows, of T
    phase2: float = 0.15         # ``cp_sat``: of a component's time, for the preferred starts
    recreate: float = 0.5        # ``ruin_recreate``: of the time left after ``merge``
    lns: float = 0.4             # ``lns``: of T, kept when a component is too big to prove
    polish: float = 0.1          # ``lns``: its last share polishes the preferred starts


SHARES = Shares()

CHILD_MARGIN = 1.0  # seconds: background children (coupled LP, pattern LP) stop this long before the end
WINDOW_LP_MIN = 3.0  # seconds: the least a window LP gets in ``knapsack`` (GLOP stopped early bounds loosely)


@dataclass(frozen=True)
class Stage:
    name: str                 # how docstrings and comments call it
    does: str                 # what it computes
    time: str                 # how much of the time it gets
    progress: tuple[str, ...] = ()  # stage strings passed to ``progress``
    timing: str | None = None      # key in ``Allocation.timings``


STAGES: tuple[Stage, ...] = (
    Stage("warm_start", "best of value-greedy, value-greedy with best-fit starts and FCFS; "
          "globally feasible", "runs to completion (three greedy passes)",
          ("warm_start",), "warm_start"),
    Stage("decompose", "independent components; binding budgets merged or split "
          "(solver.decompose)", "runs to completion", ("decompose",), "decompose"),
    Stage("patterns", "pattern relaxation (solver.patterns): the bound of the whole problem, "
          "then a dive, decode_exact and ruin and recreate on its LP",
          "background child (nice 5) from decompose to CHILD_MARGIN before the end, searching "
          "until max(1 s, polish x lns x T) before the end, its dive at most dive of that "
          "search time; up to 3,000 requests, only beside a component too big for SCIP; inline "
          "instead (after knapsack, timed under bound) in pattern x T when pattern > 0"),
    Stage("components", "above 3,000 requests: per component its pattern LP (bound), a dive "
          "within its budget shares, ruin and recreate; two child processes "
          "(solver.component_search); replaces bounds, knapsack and cp_sat",
          "until component x T from the start; per component, time in proportion to its size, "
          "component_lp of it for the LP", ("components",), "bound"),
    Stage("bounds", "per component: trivial bound, safe time-indexed LP bound (solver.bound); "
          "without knapsack, exact 0-1 MIP with SCIP on small components",
          "bound x the time left before the main deadline (the end, less lns x T when a "
          "component is too big to prove)", ("bound",), "bound"),
    Stage("knapsack", "per component: window relaxation (solver.knapsack), its safe LP bound, "
          "LP-guided rounding, CP-SAT or SCIP on it; then the coupled LP over all components",
          "knapsack_small / knapsack_large x the time left before the main deadline; each "
          "window LP at least WINDOW_LP_MIN; the coupled LP inline up to coupled_max_vars, else in a "
          "background child (nice 19) until CHILD_MARGIN before the end", ("knapsack",), "bound"),
    Stage("cp_sat", "CP-SAT per component (solver.model), hinted with its best candidate, its "
          "bound as a constraint", "what is left before the main deadline, in proportion to "
          "the components' gaps; at most max(0.5 s, prove x T) each when the LNS follows; "
          "phase2 of each for the preferred starts", ("component",), "cpsat"),
    Stage("merge", "components joined, then a greedy insertion pass of the unplaced requests",
          "runs to completion", (), "insertion"),
    Stage("ruin_recreate", "ruin and recreate over the whole schedule (solver.recreate)",
          "recreate x the time left; its first half on both cores (recreate_halves) when no "
          "pattern child runs", ("recreate",), "recreate"),
    Stage("lns", "large-neighbourhood search with exact CP-SAT sub-problems (solver.lns); "
          "takes the patterns child's schedule if heavier", "the rest of the time; its last "
          "polish share minimises the distance to preferred starts", ("lns", "patterns"), "lns"),
    Stage("check", "background bounds collected, independent check (falls back to the warm "
          "start), explanations", "after the end: a background bound is waited for up to "
          "0.5 s past it", ("done",), "check_explain"),
)

STAGE = {s.name: s for s in STAGES}


def table() -> str:
    """The stages as a Markdown table."""
    rows = ["| stage | does | time | progress | timings |", "|---|---|---|---|---|"]
    rows += [f"| ``{s.name}`` | {s.does} | {s.time} | {', '.join(s.progress) or '-'} | {s.timing or '-'} |"
             for s in STAGES]
    return "\n".join(rows)

