"""A transfer respects every cap that issuing respects (per enterprise, per controller group):
moving vouchers around must not let one enterprise (or group) hold more than it could be issued."""

from __future__ import annotations

import pytest

from fixtures import factories
from instruments.errors import PolicyViolation
from scheduler.money import vouchers as v
from scheduler.money.voucher_rules import ProgrammeRules
from tests.booking_api.conftest import auth

API = "/api/v1"
CAP = 1_000_000


def _programme(client, w, **rules) -> str:
    body = {
        "name": "Transferable",
        "year": 2026,
        "total_budget_fen": 10 * CAP,
        "rules": ProgrammeRules(transferable=True, per_enterprise_year_cap_fen=CAP, **rules).model_dump(mode="json"),
    }
    r = client.post(f"{API}/voucher-programmes", json=body, headers=auth(w, "admin"))
    assert r.status_code == 201, r.text
    return r.json()["programme"]["id"]


def _issue(client, w, pid: str, enterprise_id: str, fen: int) -> str:
    r = client.post(
        f"{API}/voucher-programmes/{pid}/vouchers",
        json={"enterprise_id": enterprise_id, "voucher_type": "testing", "face_value_fen": fen},
        headers=auth(w, "admin"),
    )
    assert r.status_code == 201, r.text
    return r.json()["code"]


def _held(client, w, who: str) -> int:
    return sum(x["face_value_fen"] for x in client.get(f"{API}/vouchers", headers=auth(w, who)).json())


def test_transfer_over_the_enterprise_cap_is_refused_over_http(client, world):
    w = world
    pid = _programme(client, w)
    code_a = _issue(client, w, pid, w.ent_a.id, CAP)
    _issue(client, w, pid, w.ent_b.id, CAP)
    r = client.post(
        f"{API}/vouchers/transfer", json={"code": code_a, "to_enterprise_id": w.ent_b.id}, headers=auth(w, "member_a")
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    (violation,) = r.json()["violations"]
    assert violation["code"] == "enterprise_cap" and violation["field"] == "to_enterprise_id"
    assert "Nawei Powders" in violation["message"] and f"cap of {CAP} fen per enterprise" in violation["message"]
    assert "holds" not in violation["message"]  # an enterprise does not learn what another one holds
    assert _held(client, w, "member_a") == CAP and _held(client, w, "member_b") == CAP


def test_transfer_within_the_cap_goes_through(client, world):
    w = world
    pid = _programme(client, w)
    code_a = _issue(client, w, pid, w.ent_a.id, 400_000)
    _issue(client, w, pid, w.ent_b.id, 600_000)
    r = client.post(
        f"{API}/vouchers/transfer", json={"code": code_a, "to_enterprise_id": w.ent_b.id}, headers=auth(w, "member_a")
    )
    assert r.status_code == 200, r.text
    assert _held(client, w, "member_a") == 0 and _held(client, w, "member_b") == CAP


def test_transfer_respects_the_group_cap_and_does_not_count_the_voucher_twice(session, world):
    w = world
    sister = factories.enterprise(session, "Ruike Coatings", 3, group="Ruike")  # same group as ent_a
    outsider = factories.enterprise(session, "Outside Ltd", 4)
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="G",
            year=2026,
            total_budget_fen=10 * CAP,
            rules=ProgrammeRules(
                transferable=True, per_enterprise_year_cap_fen=CAP, per_group_year_cap_fen=CAP + 500_000
            ).model_dump(mode="json"),
        ),
    )
    in_group = v.issue_voucher(session, w.admin, prog.id, w.ent_a.id, "testing", CAP)
    outside = v.issue_voucher(session, w.admin, prog.id, outsider.id, "testing", 600_000)
    # inside the group the group's total does not change: allowed (sister's own cap is not reached)
    v.transfer(session, w.admin, in_group.code, sister.id)
    assert in_group.holder_enterprise_id == sister.id
    # into the group it would make 1,600,000 against 1,500,000
    with pytest.raises(PolicyViolation) as err:
        v.transfer(session, w.admin, outside.code, w.ent_a.id)
    assert [x.code for x in err.value.violations] == ["group_cap"]
    assert err.value.violations[0].field == "to_enterprise_id"
    assert "Ruike already hold 1000000 fen" in err.value.detail  # a programme admin sees the figures
    assert outside.holder_enterprise_id == outsider.id


def test_issue_still_reports_the_cap_on_face_value(session, world):
    w = world
    prog = v.create_programme(
        session,
        w.admin,
        v.VoucherProgramme(
            name="I",
            year=2026,
            total_budget_fen=10 * CAP,
            rules=ProgrammeRules(per_enterprise_year_cap_fen=CAP).model_dump(mode="json"),
        ),
    )
    v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", CAP)
    with pytest.raises(PolicyViolation) as err:
        v.issue_voucher(session, w.admin, prog.id, w.ent_b.id, "testing", 1)
    assert [(x.code, x.field) for x in err.value.violations] == [("enterprise_cap", "face_value_fen")]
