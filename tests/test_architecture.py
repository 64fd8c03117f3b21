"""Imports flow one way: booking_api → scheduler → instruments / solver; solver imports nothing of
the platform. Checked on the source (every import statement, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solver", "instruments", "scheduler", "booking_api", "fixtures")

# Which of the platform's packages each package may import (besides itself).
ALLOWED = {
    "solver": set(),
    "instruments": set(),
    "scheduler": {"instruments", "solver"},
    "booking_api": {"scheduler", "instruments", "solver"},
    "fixtures": {"scheduler", "instruments", "solver"},
}
# Named modules a package may reach besides: presets are policy as data kept in fixtures and
# offered by the API and CLI, the CLI's `demo` command builds the demo, and demo data creates
# users and tokens through the door's own accounts service.
EXCEPTIONS = {
    "booking_api": {"fixtures.voucher_presets", "fixtures.reward_rules", "fixtures.demo"},
    "fixtures": {"booking_api.accounts"},
}


def imported_modules(path: Path) -> set[str]:
    """Platform modules that ``path`` imports (relative imports stay in its package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        out |= {n for n in names if n.split(".")[0] in PACKAGES}
    return out


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in sorted(imported_modules(path)):
                target = module.split(".")[0]
                if target != package and target not in ALLOWED[package] and module not in EXCEPTIONS.get(package, ()):
                    found.append(f"{path.relative_to(ROOT).as_posix()} imports {module}")
    return found


def test_imports_flow_one_way():
    assert violations() == []


def test_the_check_sees_a_wrong_way_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from booking_api.app import create_app\n    import scheduler.rounds\n")
    assert imported_modules(bad) == {"booking_api.app", "scheduler.rounds"}
