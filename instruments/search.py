"""Finding instruments: text search over the catalogue in Chinese and English, with filters and a
ranking a person expects (the instrument they named first, then its category, then mentions).

Filters that are plain columns (unit, status, fees) run in SQL; the text match and the ranking run
in Python over that filtered set, so SQLite and PostgreSQL answer identically (no collation or
``ILIKE`` differences). A catalogue holds hundreds to a few thousand instruments, each a short row.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlmodel import Session, col, select

from .categories import Category, category_of
from .inventory import Instrument, InstrumentStatus, ServiceMode
from .units import OwnerUnit

# Ranks, best first. A query's score for an instrument is its best field match.
EXACT = 100  # the whole name, English name or model
PREFIX = 90  # name, English name or model starts with the query
MAKER_EXACT = 85  # the whole manufacturer
CATEGORY = 75  # the category's own name, code, Chinese or English name
IN_NAME = 70  # name, English name, model contains it
IN_MAKER = 65
SYNONYM = 60  # a word people use for the category (电镜, mass spec), or part of its names
UNIT = 50  # the owner unit's name
DESCRIPTION = 30  # specs, functions, disciplines

_JOINERS = re.compile(r"[\s\-_/·.,，、()（）]+")


def normalise(text: str) -> str:
    """Case- and width-folded, with spaces, hyphens and punctuation removed: ``LC-MS`` → ``lcms``,
    ``ＳＥＭ`` → ``sem``, ``X 射线`` → ``x射线``."""
    return _JOINERS.sub("", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class _Texts:
    names: tuple[str, ...]
    maker: str
    category: tuple[str, ...]
    synonyms: tuple[str, ...]
    unit: tuple[str, ...]
    description: str


def _texts(inst: Instrument, unit: OwnerUnit | None, cat: Category | None) -> _Texts:
    category = [inst.category, inst.category_code]
    synonyms: tuple[str, ...] = ()
    if cat is not None:
        category += [cat.name_zh, cat.name_en]
        synonyms = tuple(normalise(s) for s in cat.synonyms)
    return _Texts(
        names=tuple(normalise(t) for t in (inst.name, inst.name_en, inst.model) if t),
        maker=normalise(inst.manufacturer),
        category=tuple(normalise(t) for t in category if t),
        synonyms=synonyms,
        unit=tuple(normalise(t) for t in ((unit.name, unit.name_en) if unit else ()) if t),
        description=normalise(" ".join((inst.key_specs, inst.main_functions, inst.disciplines))),
    )


def _score(term: str, t: _Texts) -> int:
    """How well one normalised term matches an instrument's texts (0: not at all)."""
    if not term:
        return 0
    if term in t.names:
        return EXACT
    if any(n.startswith(term) for n in t.names):
        return PREFIX
    if term == t.maker:
        return MAKER_EXACT
    if term in t.category:
        return CATEGORY
    if any(term in n for n in t.names):
        return IN_NAME
    if term in t.maker:
        return IN_MAKER
    if any(term in c for c in t.category) or any(term == s or (len(term) >= 2 and term in s) for s in t.synonyms):
        return SYNONYM
    if any(term in u for u in t.unit):
        return UNIT
    if term in t.description:
        return DESCRIPTION
    return 0


def score(query: str, t: _Texts) -> int:
    """The whole query's match; failing that, every word must match and the weakest word counts."""
    whole = _score(normalise(query), t)
    if whole:
        return whole
    words = [normalise(w) for w in query.split()]
    words = [w for w in words if w]
    if len(words) < 2:
        return 0
    scores = [_score(w, t) for w in words]
    return min(scores) - 1 if all(scores) else 0


def category_matches(wanted: str, inst: Instrument) -> bool:
    """``category=`` filter: the category's name or code, or its Chinese or English name, any case."""
    w = normalise(wanted)
    if w in (normalise(inst.category), normalise(inst.category_code)):
        return True
    cat = category_of(inst.category)
    return cat is not None and w in (normalise(cat.name_zh), normalise(cat.name_en))


def _tiebreak(inst: Instrument) -> tuple[str, str, str]:
    return inst.category, inst.name, inst.id


def search(
    session: Session,
    *,
    q: str | None = None,
    category: str | None = None,
    owner_unit_id: str | None = None,
    service_mode: ServiceMode | None = None,
    status: InstrumentStatus | None = None,
    min_fee_hour_fen: int | None = None,
    max_fee_hour_fen: int | None = None,
) -> list[Instrument]:
    """Instruments matching every given filter, best match first when ``q`` is given; ties (and
    the whole list without ``q``) by category, then name, then id, so pages are stable.

    Fees are the external hourly fee, the one an enterprise pays, in fen."""
    query = select(Instrument)
    if owner_unit_id:
        query = query.where(col(Instrument.owner_unit_id) == owner_unit_id)
    if status:
        query = query.where(col(Instrument.status) == status)
    if min_fee_hour_fen is not None:
        query = query.where(col(Instrument.fee_hour_external_fen) >= min_fee_hour_fen)
    if max_fee_hour_fen is not None:
        query = query.where(col(Instrument.fee_hour_external_fen) <= max_fee_hour_fen)
    rows = list(session.exec(query).all())
    if service_mode:
        rows = [r for r in rows if service_mode.value in r.service_modes]
    if category:
        rows = [r for r in rows if category_matches(category, r)]
    if not q or not normalise(q):
        return sorted(rows, key=_tiebreak)
    units = {
        u.id: u
        for u in session.exec(
            select(OwnerUnit).where(col(OwnerUnit.id).in_(sorted({r.owner_unit_id for r in rows})))
        ).all()
    }
    scored = [(score(q, _texts(r, units.get(r.owner_unit_id), category_of(r.category))), r) for r in rows]
    return [r for s, r in sorted(((s, r) for s, r in scored if s > 0), key=lambda sr: (-sr[0], *_tiebreak(sr[1])))]
