"""Refresh the vendored browser assets from the npm registry, exactly at the versions in
``manifest.json``: run by a person when a version is bumped (``python booking_api/web/static/vendor/refresh.py``),
never at install or run time. Each package's tarball is fetched from the registry's tarball URL,
checked against the registry's published integrity (sha512), the listed files (the asset and its
licence) are copied into ``<name>/``, and the package's ``patches`` (exact text replacements that
keep an asset from calling out to the internet) are applied. Needs network access and nothing but the standard library."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
REGISTRY = "https://registry.npmjs.org"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - a fixed https registry
        return r.read()


def refresh(name: str, spec: dict) -> None:
    meta = json.loads(_get(f"{REGISTRY}/{spec['npm'].replace('/', '%2F')}/{spec['version']}"))
    data = _get(meta["dist"]["tarball"])
    algo, _, want = meta["dist"]["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != want:
        raise SystemExit(f"{spec['npm']}@{spec['version']}: the tarball does not match the registry's {algo} integrity")
    out = HERE / name
    out.mkdir(exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for src, dest in spec["files"].items():
            member = tar.extractfile(f"package/{src}")
            if member is None:
                raise SystemExit(f"{spec['npm']}@{spec['version']} has no file {src}")
            (out / dest).write_bytes(member.read())
    for dest, replacements in spec.get("patches", {}).items():
        text = (out / dest).read_text(encoding="utf-8")
        for old, new in replacements:
            if old not in text:
                raise SystemExit(f"{spec['npm']}@{spec['version']}: patch target {old!r} not found in {dest}")
            text = text.replace(old, new)
        (out / dest).write_text(text, encoding="utf-8")
    print(f"{name}: {spec['npm']}@{spec['version']} ({spec['licence']}) → {out.relative_to(HERE)}/")


def main(names: list[str]) -> None:
    packages = json.loads((HERE / "manifest.json").read_text())["packages"]
    for name in names or packages:
        refresh(name, packages[name])


if __name__ == "__main__":
    main(sys.argv[1:])
