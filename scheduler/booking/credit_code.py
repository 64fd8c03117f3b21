"""China's 18-character unified social credit code (统一社会信用代码, GB 32100-2015).

Layout: registration authority (1) · entity type (1) · region code (6) · organisation code (9) ·
check character (1). The check character is computed over the first 17 with weights 3^i mod 31
over the 31-character alphabet below (no I, O, Z, S, V).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_char(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or ``None`` when it is."""
    if len(code) != 18:
        return f"a unified social credit code has 18 characters; {code!r} has {len(code)}"
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        return f"character(s) {''.join(bad)!r} cannot appear in a credit code (allowed: digits and {ALPHABET[10:]})"
    if not code[2:8].isdigit():
        return "characters 3–8 (the administrative region code) must be digits"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"the check character is {code[17]!r} but should be {expected!r}: a character was probably mistyped"
    return None


def normalise(code: str) -> str:
    return code.strip().upper()


def make(registration: str, kind: str, region: str, org9: str) -> str:
    """Build a valid code from its parts (fixtures and tests)."""
    first17 = f"{registration}{kind}{region}{org9}"
    return first17 + check_char(first17)
