"""Imports flow one way: booking_api → scheduler → instruments / solver; solver imports nothing of
the platform; inside scheduler, lower rooms never import higher ones. Checked on the source
(every import statement, also those inside functions, relative ones resolved)."""

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


# The rooms of scheduler and which other rooms each may import. The modules at scheduler's top
# (booking_actions, jobs) work across rooms and may import any; no room imports them.
ROOMS = {
    "shared": set(),
    "booking": {"shared"},
    "money": {"shared", "booking"},
    "sharing": {"shared", "booking", "money"},
    "allocation": {"shared", "booking", "money"},
    "calendars": {"shared", "booking"},
}


def imported_modules(path: Path, package: tuple[str, ...] = ()) -> set[str]:
    """Platform modules that ``path`` imports; relative imports are resolved against ``package``
    (its dotted parts). ``from a.b import c`` counts ``a.b`` and ``a.b.c`` (``c`` may be a module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {n for n in names if n.split(".")[0] in PACKAGES}
    return out


def _package_of(path: Path) -> tuple[str, ...]:
    return path.relative_to(ROOT).with_suffix("").parts[:-1]


def _within(module: str, allowed: set[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in sorted(imported_modules(path, _package_of(path))):
                target = module.split(".")[0]
                if (
                    target != package
                    and target not in ALLOWED[package]
                    and not _within(module, EXCEPTIONS.get(package, set()))
                ):
                    found.append(f"{path.relative_to(ROOT).as_posix()} imports {module}")
    return found


def wrong_rooms(room: str, modules: set[str]) -> list[str]:
    """The modules a file in ``scheduler/<room>/`` may not import: other rooms than ``ROOMS[room]``
    and scheduler's top modules."""
    out = []
    for module in sorted(modules):
        bits = module.split(".")
        if bits[0] == "scheduler" and len(bits) > 1 and bits[1] != room and bits[1] not in ROOMS[room]:
            out.append(module)
    return out


def room_violations() -> list[str]:
    found = []
    for path in sorted((ROOT / "scheduler").rglob("*.py")):
        parts = path.relative_to(ROOT / "scheduler").parts
        if len(parts) > 1:  # scheduler's top modules may import any room
            found += [
                f"{path.relative_to(ROOT).as_posix()} imports {m}"
                for m in wrong_rooms(parts[0], imported_modules(path, _package_of(path)))
            ]
    return found


def test_imports_flow_one_way():
    assert violations() == []


def test_rooms_of_scheduler_import_only_lower_rooms():
    rooms = sorted(p.name for p in (ROOT / "scheduler").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert rooms == sorted(ROOMS)
    assert room_violations() == []


def test_the_checks_see_wrong_way_imports(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text(
        "def f():\n    from booking_api.app import create_app\n    import scheduler.allocation.rounds\n"
        "    from .. import jobs\n    from ..money.vouchers import Voucher\n"
    )
    modules = imported_modules(bad, ("scheduler", "booking"))
    assert {"booking_api.app", "scheduler.allocation.rounds", "scheduler.jobs", "scheduler.money.vouchers"} <= modules
    assert wrong_rooms("booking", modules) == [
        "scheduler.allocation.rounds",
        "scheduler.jobs",
        "scheduler.money.vouchers",
        "scheduler.money.vouchers.Voucher",
    ]
    assert wrong_rooms("sharing", modules) == ["scheduler.allocation.rounds", "scheduler.jobs"]
