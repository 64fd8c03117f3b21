"""Innovation points (创新积分) imported by credit code, all rows or none, audited, and used in the
weight of the enterprise's requests in the next round."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from instruments.audit import AuditLog
from scheduler.allocation.round_problem import build_round_input
from scheduler.booking.booking_requests import BookingRequest, submit_request
from tests.booking_api.conftest import auth

API = "/api/v1/enterprises"


def test_points_import_is_all_or_nothing_audited_and_weighs_in_the_round(client, db, world):
    w = world
    admin = auth(w, "admin")
    before = client.get(f"{API}/{w.ent_a.id}", headers=admin).json()["innovation_points"]
    with db.session() as s:
        req = submit_request(s, w.member_a, BookingRequest(
            enterprise_id=w.ent_a.id, instrument_id=w.xrd.id, duration_minutes=60,
            earliest_start=w.at(0), deadline=w.at(0) + timedelta(days=1)))
        s.commit()
        now = w.at(8) - timedelta(days=2)
        weight_before = build_round_input(s, now).problem.request_by_id[req.id].weight
        s.commit()

    bad = client.post(f"{API}/innovation-points", headers=admin, json={
        "source": "科技局名单 2026-11", "rows": [{"credit_code": w.ent_a.credit_code, "points": 300},
                                               {"credit_code": "91110000000000000X", "points": 10}]})
    assert bad.status_code == 422 and "row 2" in bad.text and "Nothing was imported" in bad.text
    assert client.get(f"{API}/{w.ent_a.id}", headers=admin).json()["innovation_points"] == before
    member = client.post(f"{API}/innovation-points", headers=auth(w, "member_a"), json={
        "source": "x", "rows": [{"credit_code": w.ent_a.credit_code, "points": 300}]})
    assert member.status_code == 403

    ok = client.post(f"{API}/innovation-points", headers=admin, json={
        "source": "科技局名单 2026-11", "rows": [{"credit_code": w.ent_a.credit_code, "points": 300},
                                               {"credit_code": w.ent_b.credit_code,
                                                "points": client.get(f"{API}/{w.ent_b.id}", headers=admin).json()["innovation_points"]}]})
    assert ok.status_code == 200, ok.text
    got = ok.json()
    assert (got["updated"], got["unchanged"]) == (1, 1)
    assert got["changes"] == [{"enterprise_id": w.ent_a.id, "credit_code": w.ent_a.credit_code, "before": before, "after": 300}]

    csv_body = f"统一社会信用代码,创新积分\n{w.ent_a.credit_code},320\n".encode()
    r = client.post(f"{API}/innovation-points.csv", params={"source": "名单.csv"}, content=csv_body,
                    headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    assert client.get(f"{API}/{w.ent_a.id}", headers=admin).json()["innovation_points"] == 320
    wrong = client.post(f"{API}/innovation-points.csv", params={"source": "名单.csv"}, content=b"code;pts\n",
                        headers={**admin, "content-type": "text/csv"})
    assert wrong.status_code == 422 and "credit_code" in wrong.text

    with db.session() as s:
        trail = s.exec(select(AuditLog).where(AuditLog.action == "enterprise.innovation_points")
                       .order_by(AuditLog.at)).all()
        assert [(a.entity_id, a.before["innovation_points"], a.after["innovation_points"], a.after["source"])
                for a in trail] == [(w.ent_a.id, before, 300, "科技局名单 2026-11"), (w.ent_a.id, 300, 320, "名单.csv")]
        weight_after = build_round_input(s, now).problem.request_by_id[req.id].weight
    assert weight_after == weight_before + round(0.05 * (320 - before))  # WeightConfig.per_innovation_point
