"""Unknown ids in a write become an ``InvalidInput`` naming the field, before the database sees them.

Many writes carry ids a client chose (the enterprise a request is for, the unit a user manages, the
lab an instrument moves to). Were such an id unknown, the database's foreign key would refuse the
row with an error that names no field (SQLite says only "FOREIGN KEY constraint failed") and is
raised in the middle of a flush, where nothing turns it into an answer a person can act on.
``check_references`` runs before every flush of every session: for each new row, and each changed
foreign-key column of an existing row, it looks the referenced row up (the identity map first, so
rows the service already loaded cost nothing) and refuses the flush with the column as the field.
The foreign keys stay the referee: a row deleted between this check and the commit is still
refused by the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session
from sqlmodel import SQLModel

from .errors import InvalidInput

_CLASSES: dict[str, type] = {}
_FOREIGN_KEYS: dict[Mapper, list[tuple[str, str, str]]] = {}


def _class_of(table: str) -> type | None:
    if table not in _CLASSES:  # a table mapped since the last look
        _CLASSES.update({m.local_table.name: m.class_ for m in SQLModel._sa_registry.mappers})
    return _CLASSES.get(table)


def _foreign_keys(mapper: Mapper) -> list[tuple[str, str, str]]:
    """(attribute, referenced table, referenced column) for each single-column foreign key."""
    if mapper not in _FOREIGN_KEYS:
        _FOREIGN_KEYS[mapper] = [
            (prop.key, fk.column.table.name, fk.column.key)
            for prop in mapper.column_attrs
            for column in prop.columns
            for fk in getattr(column, "foreign_keys", ())
        ]
    return _FOREIGN_KEYS[mapper]


def _pending_keys(session: Session) -> set[tuple[str, Any]]:
    keys = set()
    for obj in session.new:
        mapper = inspect(obj).mapper
        pk = mapper.primary_key
        if len(pk) == 1:
            keys.add((mapper.local_table.name, getattr(obj, mapper.get_property_by_column(pk[0]).key)))
    return keys


def check_references(session: Session, *_: Any) -> None:
    """Refuse the flush if a new or changed foreign-key value names no row (see the module)."""
    if not session.new and not session.dirty:
        return
    _check(session, list(session.new) + list(session.dirty))


def refuse_unknown(session: Session, obj: SQLModel) -> None:
    """The same check for one new row that is written without a flush (a booking written
    together with its audit row and mail, ``bookings.write_new``)."""
    _check(session, [obj], new=True)


def _check(session: Session, objs: list[Any], new: bool = False) -> None:
    known: dict[tuple[str, Any], bool] = {}
    pending: set[tuple[str, Any]] | None = None
    for obj in objs:
        state = inspect(obj)
        for attr, table, column in _foreign_keys(state.mapper):
            value = getattr(obj, attr, None)
            if value is None or (not new and not state.pending and not state.attrs[attr].history.added):
                continue
            if (table, value) not in known:
                target = _class_of(table)
                if target is None or inspect(target).primary_key[0].key != column:
                    known[(table, value)] = True  # not a reference this check understands
                    continue
                if pending is None:
                    pending = _pending_keys(session)
                if (table, value) in pending:
                    known[(table, value)] = True
                else:
                    with session.no_autoflush:
                        found = session.get(target, value)
                    known[(table, value)] = found is not None and found not in session.deleted
            if not known[(table, value)]:
                noun = table.removeprefix("app_").replace("_", " ")
                raise InvalidInput(f"No {noun} {value!r} ({attr}).", field=attr)


def install() -> None:
    """Check references before every flush of every ORM session (idempotent)."""
    if not event.contains(Session, "before_flush", check_references):
        event.listen(Session, "before_flush", check_references)
