"""The API beside the programme office's pages: programmes listed with their budgets (filters,
paging) and their rules replaced (validated, audited); vouchers issued from a CSV, all rows or none
with each bad row named, and listed by holder; enterprises listed by name, code and standing,
verified, suspended and restored. Programme admins only."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from fixtures.voucher_presets import PRESETS
from instruments.audit import AuditLog
from scheduler.money import vouchers as v
from tests.booking_api.conftest import auth

API = "/api/v1"


def _programme(session, w, name="2026 测试创新券", year=2026, budget=1_000_000) -> v.VoucherProgramme:
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(name=name, year=year, total_budget_fen=budget, rules=PRESETS["shanghai"].model_dump(mode="json")),
    )
    session.commit()
    return prog


def test_programmes_are_listed_with_budgets_filtered_and_paged(client, world, session):
    w = world
    a = _programme(session, w, "2026 甲项目")
    _programme(session, w, "2027 乙项目", 2027)
    v.issue_voucher(session, w.admin, a.id, w.ent_a.id, "testing", 300_000)
    session.commit()
    admin = auth(w, "admin")
    rows = client.get(f"{API}/voucher-programmes", headers=admin).json()
    assert [r["programme"]["name"] for r in rows] == ["2027 乙项目", "2026 甲项目"]
    assert rows[1]["budget"] == {
        "allocated_fen": 1_000_000,
        "issued_fen": 300_000,
        "reserved_fen": 0,
        "spent_fen": 0,
        "left_fen": 700_000,
    }
    assert [r["programme"]["year"] for r in client.get(f"{API}/voucher-programmes?year=2026", headers=admin).json()] == [2026]
    assert len(client.get(f"{API}/voucher-programmes?q=乙", headers=admin).json()) == 1
    assert len(client.get(f"{API}/voucher-programmes?limit=1&offset=1", headers=admin).json()) == 1
    assert client.get(f"{API}/voucher-programmes", headers=auth(w, "member_a")).status_code == 403


def test_rules_are_replaced_validated_and_audited(client, world, session):
    w = world
    prog = _programme(session, w)
    admin = auth(w, "admin")
    rules = {**PRESETS["shanghai"].model_dump(mode="json"), "share_bp": 6000}
    r = client.put(f"{API}/voucher-programmes/{prog.id}/rules", headers=admin, json=rules)
    assert r.status_code == 200 and r.json()["programme"]["rules"]["share_bp"] == 6000
    assert session.exec(select(AuditLog).where(AuditLog.action == "programme.rules")).one().after["rules"]["share_bp"] == 6000
    session.commit()
    bad = client.put(f"{API}/voucher-programmes/{prog.id}/rules", headers=admin, json={**rules, "share_bp": 12000})
    assert bad.status_code == 422
    assert client.put(f"{API}/voucher-programmes/prg_nope/rules", headers=admin, json=rules).status_code == 404
    assert client.put(f"{API}/voucher-programmes/{prog.id}/rules", headers=auth(w, "manager"), json=rules).status_code == 403


def test_vouchers_from_a_csv_are_all_or_none_and_listed_by_holder(client, world, session):
    w = world
    prog = _programme(session, w)
    admin = {**auth(w, "admin"), "Content-Type": "text/csv"}
    url = f"{API}/voucher-programmes/{prog.id}/vouchers.csv"
    bad = f"credit_code,voucher_type,face_value\n{w.ent_a.credit_code},testing,1000\n{w.ent_b.credit_code},nope,1000\n"
    r = client.post(url, headers=admin, content=bad.encode())
    assert r.status_code == 422
    assert r.json()["rows"] == [
        {"line": 3, "column": "voucher_type", "code": "unknown_type", "detail": r.json()["rows"][0]["detail"]}
    ]
    assert session.exec(select(v.Voucher)).all() == []
    session.commit()
    good = f"credit_code,voucher_type,face_value\n{w.ent_a.credit_code},testing,1000\n{w.ent_b.credit_code},rd_service,2000.5\n"
    r = client.post(url, headers=admin, content=good.encode())
    assert r.status_code == 201 and sorted(x["face_value_fen"] for x in r.json()) == [100_000, 200_050]
    mine = client.get(f"{API}/vouchers?enterprise_id={w.ent_b.id}", headers=auth(w, "admin")).json()
    assert [x["face_value_fen"] for x in mine] == [200_050]
    headerless = client.post(url, headers=admin, content=b"a,b\n1,2\n")
    assert headerless.status_code == 422
    assert client.post(url, headers={**auth(w, "member_a"), "Content-Type": "text/csv"}, content=good.encode()).status_code == 403


def test_enterprises_are_verified_suspended_restored_and_listed_by_standing(client, world, session):
    w = world
    admin = auth(w, "admin")
    e = w.ent_b.id
    r = client.post(f"{API}/enterprises/{e}/verify", headers=admin)
    assert r.status_code == 200 and r.json()["verified_at"] and r.json()["verified_by"] == w.admin.user_id
    assert client.post(f"{API}/enterprises/{e}/verify", headers=admin).status_code == 409
    names = lambda q: [x["name"] for x in client.get(f"{API}/enterprises?{q}", headers=admin).json()]  # noqa: E731
    assert names("standing=verified") == ["Nawei Powders"] and names("standing=unverified") == ["Ruike Materials"]
    assert names(f"q={w.ent_a.credit_code[-6:]}") == ["Ruike Materials"] and names("q=nawei") == ["Nawei Powders"]
    until = (w.at(0) + timedelta(days=30)).isoformat()
    r = client.post(f"{API}/enterprises/{e}/suspend", headers=admin, json={"until": until, "reason": "逾期未付"})
    assert r.status_code == 200 and names("standing=suspended") == ["Nawei Powders"]
    past = client.post(f"{API}/enterprises/{e}/suspend", headers=admin, json={"until": "2020-01-01T00:00:00+08:00", "reason": "x"})
    assert past.status_code == 422
    assert client.post(f"{API}/enterprises/{e}/restore", headers=admin).status_code == 200
    assert names("standing=suspended") == []
    assert client.post(f"{API}/enterprises/{e}/restore", headers=admin).status_code == 409
    assert client.post(f"{API}/enterprises/ent_nope/verify", headers=admin).status_code == 404
    assert client.post(f"{API}/enterprises/{e}/verify", headers=auth(w, "member_b")).status_code == 403
