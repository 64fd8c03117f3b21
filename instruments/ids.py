"""Opaque string ids: a short type prefix and random base32 text (``ins_3k9x…``)."""

from __future__ import annotations

import random
import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_seeded: random.Random | None = None


def new_id(prefix: str) -> str:
    choice = _seeded.choice if _seeded is not None else secrets.choice
    return f"{prefix}_" + "".join(choice(_ALPHABET) for _ in range(12))


def seed_ids(seed: int | None) -> None:
    """Make ids deterministic (fixtures only); ``None`` restores cryptographic randomness."""
    global _seeded
    _seeded = random.Random(seed) if seed is not None else None
