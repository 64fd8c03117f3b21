"""``audit.record_many`` writes the rows ``audit.record`` writes (one bulk INSERT, no object
each): the same actor, action, entity and before/after, a missing ``before`` stored alike."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from instruments.actor import SYSTEM, Actor, Role
from instruments.audit import AuditLog, record, record_many


def test_record_many_writes_what_record_writes(db):
    admin = Actor(user_id=None, role=Role.programme_admin, name="admin")
    changes = [
        ("thing.create", "thing", "thg_1", None, {"a": 1, "when": "2026-12-06T09:00:00+08:00"}),
        ("thing.change", "thing", "thg_1", {"a": 1, "list": [1, {"x": None}]}, {"a": 2, "list": []}),
    ]
    with db.session() as s:
        for action, entity, eid, before, after in changes:
            record(s, SYSTEM, action, entity, eid, before=before, after=after)
        s.flush()
        ids = record_many(s, admin, [(a, e, i.replace("thg_", "thm_"), b, af) for a, e, i, b, af in changes])
        s.commit()
    assert len(ids) == 2 and all(i.startswith("aud_") for i in ids)
    with db.session() as s:
        rows = {(r.entity_id, r.action): r for r in s.exec(select(AuditLog)).all()}
        for action, _, eid, before, after in changes:
            one, many = rows[(eid, action)], rows[(eid.replace("thg_", "thm_"), action)]
            assert (one.before, one.after) == (before, after) == (many.before, many.after)
            assert (many.actor_role, many.actor_user_id, many.entity) == (str(Role.programme_admin), None, "thing")
            assert many.at is not None and many.at.tzinfo is not None
        # a missing "before" is stored the same way (SQL NULL or JSON null alike), so queries agree
        raw = dict(
            s.execute(
                text("SELECT entity_id, before IS NULL FROM audit_log WHERE action = 'thing.create'")
            ).all()
        )
        assert raw["thg_1"] == raw["thm_1"]
