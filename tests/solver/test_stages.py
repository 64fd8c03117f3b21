"""The stage table (solver.stages) is the one place that names the pipeline's stages and their
default time shares: solve() reads its defaults from it, the pipeline's docstring names every
stage, and what solve() reports (progress strings, timing keys) is in the table."""

from __future__ import annotations

import inspect

from helpers import FAST

import solver.pipeline as pipeline
from bench.instances import generate
from solver import check, solve
from solver.component_search import search_component
from solver.stages import SHARES, STAGE, STAGES


def test_solve_takes_its_default_time_shares_from_the_table():
    params = inspect.signature(solve).parameters
    for name in ("bound", "component", "pattern", "prove", "phase2", "recreate", "lns", "polish"):
        assert params[f"{name}_share"].default == getattr(SHARES, name)
    assert params["knapsack_share"].default is None  # picked from knapsack_small / knapsack_large
    comp = inspect.signature(search_component).parameters
    assert comp["lp_share"].default == SHARES.component_lp and comp["dive_share"].default == SHARES.dive


def test_every_stage_has_a_unique_name_named_in_the_pipeline_docstring():
    names = [s.name for s in STAGES]
    assert len(set(names)) == len(names) == len(STAGE)
    for name in names:
        assert f"``{name}``" in pipeline.__doc__


def test_what_solve_reports_is_in_the_table():
    problem = generate("small", True, 0)
    said: list[str] = []
    alloc = solve(problem, progress=lambda stage, info: said.append(stage), **FAST)
    assert check(problem, alloc.placements, alloc.objective) == []
    assert set(said) <= {p for s in STAGES for p in s.progress}
    assert set(alloc.timings) - {"total"} <= {s.timing for s in STAGES if s.timing}
