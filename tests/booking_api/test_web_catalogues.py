"""Every string the web pages show is in the zh-CN catalogue, and every vendored asset is pinned
with its licence beside it."""

from __future__ import annotations

import json
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

import booking_api.web as web
from booking_api.web.i18n import catalogue, catalogue_paths

WEB = Path(web.__file__).parent


def page_msgids() -> set[str]:
    """Every message the web code and templates mark for translation (``pybabel extract``'s set)."""
    with (WEB / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {m[2] if isinstance(m[2], str) else m[2][0] for m in extract_from_dir(str(WEB), method_map, options_map)}


def test_every_page_string_has_a_chinese_translation():
    msgids = page_msgids()
    catalog = catalogue("zh-CN")
    missing = sorted(m for m in msgids if not (catalog.get(m) and catalog.get(m).string))
    assert len(msgids) > 30 and missing == []


def test_no_catalogue_keeps_a_message_no_page_shows_any_more():
    used = page_msgids()
    stale = []
    for path in catalogue_paths("zh-CN"):
        with path.open("rb") as f:
            stale += [(path.name, m.id) for m in read_po(f) if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in used]
    assert stale == []


def test_a_message_in_two_area_catalogues_reads_the_same_in_both():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in catalogue_paths("zh-CN"):
        with path.open("rb") as f:
            for m in read_po(f):
                if m.id and m.string:
                    if m.id in seen and seen[m.id][1] != m.string:
                        clashes.append((m.id, seen[m.id], (path.name, m.string)))
                    seen.setdefault(m.id, (path.name, m.string))
    assert clashes == []


def test_vendored_assets_are_pinned_and_licensed():
    vendor = WEB / "static" / "vendor"
    packages = json.loads((vendor / "manifest.json").read_text())["packages"]
    assert {"htmx", "pico", "swagger-ui", "redoc", "fullcalendar", "chart.js"} <= set(packages)
    for name, spec in packages.items():
        assert spec["version"][0].isdigit() and "^" not in spec["version"] and "~" not in spec["version"]
        for dest in spec["files"].values():
            assert (vendor / name / dest).is_file(), f"{name}/{dest}"
        assert any("LICENSE" in d for d in spec["files"].values()), name
        for dest, patches in spec.get("patches", {}).items():
            text = (vendor / name / dest).read_text(encoding="utf-8")
            assert all(old not in text for old, _ in patches), f"{name}/{dest} is not patched"
