"""The programme office's console: programmes (created from a preset, rules edited with every
refusal beside its field, the budget from the ledger in yuan), enterprises (registered with the
credit code checked, verified, suspended and restored, innovation points set and imported), vouchers
(issued one at a time or from a CSV, all rows or none with each bad row named, revoked with a
reason) and allocation rounds (run in the background, watched, their results with gap, the FCFS
comparison and every unplaced request's reason). Other roles get 403, forms without CSRF 403,
unknown ids 404."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from booking_api.accounts import User, set_password
from booking_api.web.clock import web_now
from booking_api.web.office_rounds import round_limits
from fixtures.voucher_presets import PRESETS
from instruments.actor import SYSTEM
from instruments.audit import AuditLog
from instruments.run_lock import acquire, release, report
from scheduler.allocation import round_runs
from scheduler.allocation.round_runs import Limits, RoundRuns
from scheduler.allocation.rounds import ROUND_LOCK, AllocationRound
from scheduler.booking import credit_code
from scheduler.booking.booking_requests import BookingRequest, submit_request
from scheduler.booking.enterprises import Enterprise
from scheduler.money import ledger
from scheduler.money import vouchers as v

from .test_web_signin import PASSWORD, csrf_of, sign_in

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
FAST = Limits(time_limit=5, workers=1, seed=0, deterministic_time=2.0)
GOOD_CODE = credit_code.make("9", "1", "120116", "MA0000421")


def _sign_in_as(client, session, actor) -> None:
    user = session.get(User, actor.user_id)
    set_password(session, SYSTEM, user, PASSWORD)
    session.commit()
    assert sign_in(client, user.email).status_code == 303


@pytest.fixture
def office(client, world, session):
    _sign_in_as(client, session, world.admin)
    return client


def _post(client, page: str, action: str, data: dict, files=None, headers=None):
    form = client.get(page, headers=headers or {})
    assert form.status_code == 200, form.text[:300]
    return client.post(
        action, data={"csrf": csrf_of(form.text), **data}, files=files, headers=headers or {}, follow_redirects=False
    )


def _fresh(session, model, key):
    row = session.get(model, key, populate_existing=True)
    session.commit()
    return row


def _programme(session, world, budget_fen=10_000_000, preset="shandong_jinan") -> v.VoucherProgramme:
    prog = v.create_programme(
        session,
        world.admin,
        v.VoucherProgramme(
            name="2026 天津市科技创新券", year=2026, total_budget_fen=budget_fen, rules=PRESETS[preset].model_dump(mode="json")
        ),
    )
    session.commit()
    return prog


# --- programmes ---------------------------------------------------------------------------------


def test_a_programme_is_created_from_a_preset_and_listed_with_its_budget_in_yuan(office, session):
    r = _post(
        office,
        "/office/programmes/new",
        "/office/programmes/new",
        {"name": "2027 上海科技创新券", "region": "上海市", "year": "2027", "budget": "1000000.50", "preset": "shanghai"},
    )
    assert r.status_code == 303, r.text
    prog = session.exec(select(v.VoucherProgramme).where(v.VoucherProgramme.name == "2027 上海科技创新券")).one()
    session.commit()
    assert prog.total_budget_fen == 100_000_050 and prog.parsed == PRESETS["shanghai"]
    page = office.get("/office/programmes", headers=ZH)
    row = re.search(rf'<tr data-programme="{prog.id}">.*?</tr>', page.text, re.S).group(0)
    assert row.count("¥1,000,000.50") == 2 and "¥0.00" in row  # allocated and left; nothing issued
    assert "剩余可发放" in page.text
    detail = office.get(r.headers["location"], headers=ZH)
    assert "项目已创建" in detail.text and 'value="50"' in detail.text  # the share in percent


def test_the_create_form_refuses_with_errors_beside_the_fields(office, session):
    r = _post(
        office,
        "/office/programmes/new",
        "/office/programmes/new",
        {"name": " ", "year": "1999", "budget": "12.345", "preset": "atlantis"},
        headers=ZH,
    )
    assert r.status_code == 422
    for field in ("name", "year", "budget", "preset"):
        assert f'data-testid="error-{field}"' in r.text, field
    assert "请输入 2000 到 2100 之间的年份" in r.text
    assert session.exec(select(v.VoucherProgramme)).all() == []


def _rules_form(client, prog_id: str) -> dict[str, str]:
    """The rules form as the page fills it (every input's value, checked boxes only)."""
    page = client.get(f"/office/programmes/{prog_id}")
    form = re.search(r'data-testid="rules-form">(.*?)</form>', page.text, re.S).group(1)
    data = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    data["redemption_kind"] = re.search(r'<option value="(\w+)" selected', form).group(1)
    return data


def test_rules_are_edited_and_audited(office, world, session):
    prog = _programme(session, world)
    data = _rules_form(office, prog.id)
    assert data["share"] == "60" and data["type_code_0"] == "testing" and data["redemption_kind"] == "monthly"
    data.update(share="55.5", per_order_cap="20000", type_code_2="rd_plus", type_name_2="研发增强券", type_face_2="5000")
    r = office.post(f"/office/programmes/{prog.id}/rules", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    rules = _fresh(session, v.VoucherProgramme, prog.id).parsed
    assert rules.share_bp == 5550 and rules.per_order_cap_fen == 2_000_000 and rules.provider_bonus_bp == 1000
    assert rules.voucher_type("rd_plus").face_value_fen == 500_000 and len(rules.voucher_types) == 3
    log = session.exec(select(AuditLog).where(AuditLog.action == "programme.rules")).one()
    assert log.before["rules"]["share_bp"] == 6000 and log.after["rules"]["share_bp"] == 5550
    assert "规则已保存" in office.get(r.headers["location"], headers=ZH).text
    en = office.get(r.headers["location"], headers=EN).text
    assert "The rules are saved" in en and "Share of the fee (%)" in en and 'value="55.5"' in en


def test_bad_rules_are_refused_field_by_field_and_nothing_is_saved(office, world, session):
    prog = _programme(session, world, preset="shanghai")
    data = _rules_form(office, prog.id)
    data.update(share="120", q2_opens="02-30", validity_days="0", per_enterprise_year_cap="1000", per_group_year_cap="")
    r = office.post(f"/office/programmes/{prog.id}/rules", data=data, headers=ZH, follow_redirects=False)
    assert r.status_code == 422
    assert 'data-testid="error-share"' in r.text and 'data-testid="error-validity_days"' in r.text
    assert 'aria-describedby="share-error"' in r.text and "未保存任何内容" in r.text
    data.update(share="50", validity_days="365")  # now only the model's own checks are left
    r = office.post(f"/office/programmes/{prog.id}/rules", data=data, headers=ZH, follow_redirects=False)
    assert r.status_code == 422 and 'data-testid="error-q2_opens"' in r.text and "MM-DD" in r.text
    data.update(q2_opens="07-19", per_group_year_cap="500")  # a group cap below the enterprise cap
    r = office.post(f"/office/programmes/{prog.id}/rules", data=data, headers=ZH, follow_redirects=False)
    assert r.status_code == 422 and 'data-testid="error-per_group_year_cap"' in r.text
    assert _fresh(session, v.VoucherProgramme, prog.id).parsed == PRESETS["shanghai"]


def test_the_budget_counts_issued_reserved_spent_and_left(office, world, session):
    prog = _programme(session, world)
    v.issue_voucher(session, world.admin, prog.id, world.ent_a.id, "testing", 250_000)
    session.commit()
    page = office.get(f"/office/programmes/{prog.id}")
    assert re.search(r'data-testid="issued">¥2,500.00<', page.text)
    assert re.search(r'data-testid="left">¥97,500.00<', page.text)


# --- enterprises --------------------------------------------------------------------------------


def test_an_enterprise_is_registered_and_a_bad_credit_code_is_refused_at_its_field(office, session):
    bad = GOOD_CODE[:17] + ("0" if GOOD_CODE[17] != "0" else "1")
    r = _post(office, "/office/enterprises", "/office/enterprises", {"name": "津南新材料有限公司", "credit_code": bad}, headers=ZH)
    assert r.status_code == 422
    err = re.search(r'data-testid="error-credit_code">([^<]+)<', r.text).group(1)
    assert "校验码" in err and GOOD_CODE[17] in err
    assert 'value="津南新材料有限公司"' in r.text  # what was typed stays
    short = _post(office, "/office/enterprises", "/office/enterprises", {"name": "X", "credit_code": "91120116"}, headers=ZH)
    assert "18 个字符" in short.text
    r = _post(
        office,
        "/office/enterprises",
        "/office/enterprises",
        {"name": "津南新材料有限公司", "credit_code": GOOD_CODE.lower(), "kind": "high_tech", "innovation_points": "120"},
    )
    assert r.status_code == 303, r.text
    ent = session.exec(select(Enterprise).where(Enterprise.credit_code == GOOD_CODE)).one()
    session.commit()
    assert ent.kind == "high_tech" and ent.innovation_points == 120 and ent.verified_at is None
    again = _post(office, "/office/enterprises", "/office/enterprises", {"name": "Y", "credit_code": GOOD_CODE}, headers=ZH)
    assert again.status_code == 422 and "已登记" in re.search(r'data-testid="error-credit_code">([^<]+)<', again.text).group(1)


def test_verify_suspend_and_restore(office, world, session):
    e = world.ent_b.id
    now = world.at(9) - timedelta(days=2)
    office.app.dependency_overrides[web_now] = lambda: now
    r = _post(office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/verify", {})
    assert r.status_code == 303
    assert _fresh(session, Enterprise, e).verified_at == now
    again = _post(office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/verify", {}, headers=ZH)
    assert again.status_code == 409 and "已核验" in again.text
    past = _post(office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/suspend", {"until": "2020-01-01", "reason": "x"})
    assert past.status_code == 422 and 'data-testid="error-until"' in past.text
    no_reason = _post(
        office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/suspend", {"until": str(world.day), "reason": " "}
    )
    assert no_reason.status_code == 422 and 'data-testid="error-reason"' in no_reason.text
    r = _post(
        office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/suspend", {"until": str(world.day), "reason": "虚假材料"}
    )
    assert r.status_code == 303
    assert _fresh(session, Enterprise, e).booking_suspended_until == world.at(0) + timedelta(days=1)
    log = session.exec(select(AuditLog).where(AuditLog.action == "enterprise.suspend")).one()
    assert log.after["reason"] == "虚假材料"
    session.commit()  # end the test's read (SQLite: a held read blocks the page's write)
    listed = office.get("/office/enterprises?show=suspended", headers=ZH).text
    assert "Nawei Powders" in listed and "Ruike Materials" not in listed
    r = _post(office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/restore", {})
    assert r.status_code == 303 and _fresh(session, Enterprise, e).booking_suspended_until == now
    not_now = _post(office, f"/office/enterprises/{e}", f"/office/enterprises/{e}/restore", {}, headers=ZH)
    assert not_now.status_code == 409


def test_innovation_points_are_set_by_hand_and_imported_all_or_none(office, world, session):
    a, b = world.ent_a, world.ent_b
    r = _post(office, f"/office/enterprises/{a.id}", f"/office/enterprises/{a.id}/points", {"points": "130", "source": "区科技局复核"})
    assert r.status_code == 303 and _fresh(session, Enterprise, a.id).innovation_points == 130
    bad = _post(office, f"/office/enterprises/{a.id}", f"/office/enterprises/{a.id}/points", {"points": "1001", "source": "x"})
    assert bad.status_code == 422 and 'data-testid="error-points"' in bad.text
    csv_bad = f"统一社会信用代码,创新积分\n{a.credit_code},140\n{b.credit_code},lots\n".encode()
    r = _post(
        office,
        "/office/enterprises",
        "/office/enterprises/innovation-points",
        {"source": "市科技局 2026 年名单"},
        files={"file": ("points.csv", csv_bad, "text/csv")},
        headers=ZH,
    )
    assert r.status_code == 422 and "未导入任何内容" in r.text and "第 2 行" in r.text and "lots" in r.text
    assert _fresh(session, Enterprise, a.id).innovation_points == 130  # row 1 was fine, but nothing is imported
    csv_good = f"credit_code,points\n{a.credit_code},140\n{b.credit_code},90\n".encode()
    r = _post(
        office,
        "/office/enterprises",
        "/office/enterprises/innovation-points",
        {"source": "市科技局 2026 年名单"},
        files={"file": ("points.csv", csv_good, "text/csv")},
        headers=ZH,
    )
    assert r.status_code == 200 and 'data-testid="points-imported"' in r.text
    assert (_fresh(session, Enterprise, a.id).innovation_points, _fresh(session, Enterprise, b.id).innovation_points) == (140, 90)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "enterprise.innovation_points")).all()
    assert {x.after["source"] for x in audit} == {"区科技局复核", "市科技局 2026 年名单"}


# --- vouchers -----------------------------------------------------------------------------------


def test_a_voucher_is_issued_singly_and_refusals_are_at_their_field(office, world, session):
    prog = _programme(session, world, budget_fen=1_000_000)
    r = _post(
        office,
        "/office/vouchers/new",
        "/office/vouchers/new",
        {"kind": f"{prog.id}:testing", "enterprise_id": world.ent_a.id, "face_value": "20000"},
        headers=ZH,
    )
    assert r.status_code == 422 and 'data-testid="error-face_value"' in r.text and "预算" in r.text
    r = _post(
        office,
        "/office/vouchers/new",
        "/office/vouchers/new",
        {"kind": f"{prog.id}:testing", "enterprise_id": world.ent_a.id, "face_value": "5000"},
    )
    assert r.status_code == 303
    issued = session.exec(select(v.Voucher)).one()
    session.commit()
    assert issued.face_value_fen == 500_000 and issued.holder_enterprise_id == world.ent_a.id
    assert ledger.balance(session, ledger.budget(prog.id)) == 500_000
    session.commit()
    none = _post(office, "/office/vouchers/new", "/office/vouchers/new", {"kind": "", "enterprise_id": ""}, headers=ZH)
    assert 'data-testid="error-kind"' in none.text and 'data-testid="error-enterprise_id"' in none.text


def _bulk(client, prog_id: str, text: str, headers=None):
    return _post(
        client,
        "/office/vouchers/new",
        "/office/vouchers/bulk",
        {"programme_id": prog_id},
        files={"file": ("list.csv", text.encode(), "text/csv")},
        headers=headers,
    )


def test_a_csv_with_a_bad_row_issues_nothing_and_names_the_row_then_the_fixed_list_issues_all(office, world, session):
    prog = _programme(session, world)
    a, b = world.ent_a.credit_code, world.ent_b.credit_code
    bad = f"统一社会信用代码,券种,面额\n{a},testing,3000\n{b},rd_servce,2000\n{a},testing,12.345\n"
    r = _bulk(office, prog.id, bad, ZH)
    assert r.status_code == 422 and "未发放任何创新券" in r.text
    rows = re.findall(r'<tr data-line="(\d+)"><td>\d+</td><td[^>]*>([^<]+)</td><td>([^<]+)</td>', r.text)
    assert [(line, col) for line, col, _ in rows] == [("3", "券种 (voucher_type)"), ("4", "面值 (face_value)")]
    assert "rd_servce" in rows[0][2] and "rd_service" in rows[0][2] and "12.345" in rows[1][2]
    assert session.exec(select(v.Voucher)).all() == []
    assert ledger.balance(session, ledger.budget(prog.id)) == 10_000_000
    session.commit()
    no_default = _bulk(office, prog.id, f"credit_code,voucher_type,face_value\n{a},testing,\n", ZH)
    assert re.findall(r'<tr data-line="(\d+)">', no_default.text) == ["2"]  # the type has no default face value
    good = f"credit_code,voucher_type,face_value\n{a},testing,3000\n{b},rd_service,2000\n{a},testing,1000.5\n"
    r = _bulk(office, prog.id, good)
    assert r.status_code == 303, r.text
    issued = session.exec(select(v.Voucher)).all()
    session.commit()
    assert sorted(x.face_value_fen for x in issued) == [100_050, 200_000, 300_000]
    listed = office.get(r.headers["location"], headers=ZH).text
    assert "已发放 3 张创新券" in listed and listed.count('<tr data-voucher="') == 3


def test_bulk_rows_that_break_the_budget_or_a_cap_are_named_and_nothing_is_issued(office, world, session):
    prog = _programme(session, world, budget_fen=600_000)
    a = world.ent_a.credit_code
    r = _bulk(office, prog.id, f"credit_code,voucher_type,face_value\n{a},testing,4000\n{a},testing,4000\nnot-a-code,testing,1\n", ZH)
    assert r.status_code == 422
    lines = re.findall(r'<tr data-line="(\d+)">', r.text)
    assert lines == ["3", "4"] and "¥2,000.00" in r.text  # what was left when row 3's turn came
    assert session.exec(select(v.Voucher)).all() == []


def test_a_voucher_is_revoked_with_a_reason(office, world, session):
    prog = _programme(session, world)
    voucher = v.issue_voucher(session, world.admin, prog.id, world.ent_a.id, "testing", 100_000)
    session.commit()
    page = f"/office/vouchers/{voucher.id}"
    empty = _post(office, page, f"{page}/revoke", {"reason": " "}, headers=ZH)
    assert empty.status_code == 422 and "原因" in empty.text
    r = _post(office, page, f"{page}/revoke", {"reason": "企业注销"})
    assert r.status_code == 303
    after = _fresh(session, v.Voucher, voucher.id)
    assert after.status == v.VoucherStatus.revoked and after.revoked_reason == "企业注销"
    assert ledger.balance(session, ledger.budget(prog.id)) == 10_000_000
    assert "revoke-form" not in office.get(page).text
    listed = office.get(f"/office/vouchers?status=revoked&programme_id={prog.id}", headers=ZH).text
    assert f'<tr data-voucher="{voucher.code}">' in listed
    assert f'<tr data-voucher="{voucher.code}">' not in office.get("/office/vouchers?status=issued").text


# --- rounds -------------------------------------------------------------------------------------


def _requests(session, w) -> tuple[str, str]:
    def req(minutes: int) -> str:
        r = submit_request(
            session,
            w.member_a,
            BookingRequest(
                enterprise_id="",
                instrument_id=w.xrd.id,
                duration_minutes=minutes,
                earliest_start=w.at(0),
                deadline=w.at(0) + timedelta(days=1),
            ),
        )
        return r.id

    placed, left_out = req(120), req(300)  # 5 h never fits one opening period
    session.commit()
    return placed, left_out


def test_a_round_runs_from_the_page_and_its_results_explain_every_unplaced_request(office, world, session):
    w = world
    placed, left_out = _requests(session, w)
    office.app.state.round_runs = RoundRuns(inline=True)
    office.app.dependency_overrides[round_limits] = lambda: FAST
    office.app.dependency_overrides[web_now] = lambda: w.at(8) - timedelta(days=2)
    r = _post(office, "/office/rounds", "/office/rounds", {})
    assert r.status_code == 303 and r.headers["location"].startswith("/office/rounds/runs/")
    run = office.get(r.headers["location"], follow_redirects=False)
    assert run.status_code == 303  # done: on to the results
    rnd = session.exec(select(AllocationRound)).one()
    session.commit()
    assert run.headers["location"] == f"/office/rounds/{rnd.id}"
    assert rnd.metrics["outcomes"]["placed"].keys() == {placed}
    page = office.get(run.headers["location"], headers=ZH)
    assert page.status_code == 200
    assert f'<tr data-request="{placed}">' in page.text and f'<tr data-request="{left_out}">' in page.text
    unplaced = re.search(rf'<tr data-request="{left_out}">.*?</tr>', page.text, re.S).group(0)
    assert "Powder XRD" in unplaced and "300 分钟" in unplaced and "Ruike Materials" in unplaced
    assert 'data-testid="gap"' in page.text and 'data-testid="fcfs"' in page.text
    assert re.search(r'data-testid="objective">\d+<', page.text)
    progress = office.get(f"{r.headers['location']}/progress")
    assert progress.headers["HX-Redirect"] == f"/office/rounds/{rnd.id}"
    assert f'data-round="{rnd.id}"' in office.get("/office/rounds").text


def test_a_round_in_the_background_is_watched_until_it_is_written(office, world, session):
    w = world
    _requests(session, w)
    office.app.state.round_runs = RoundRuns()
    office.app.dependency_overrides[round_limits] = lambda: FAST
    office.app.dependency_overrides[web_now] = lambda: w.at(8) - timedelta(days=2)
    r = _post(office, "/office/rounds", "/office/rounds", {})
    progress = f"{r.headers['location']}/progress"
    deadline = time.monotonic() + 120  # a bound for a very busy machine, not a speed assumption
    while True:
        box = office.get(progress, headers=ZH)
        assert box.status_code == 200 and 'data-testid="round-progress"' in box.text
        if "HX-Redirect" in box.headers:
            break
        assert 'hx-trigger="every 1s"' in box.text  # still polling
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rnd = session.exec(select(AllocationRound)).one()
    session.commit()
    assert box.headers["HX-Redirect"] == f"/office/rounds/{rnd.id}" and 'data-phase="written"' in box.text
    assert "hx-trigger" not in box.text


def test_a_run_is_followed_from_another_server_process(office, world, session, db):
    """With several workers a poll may reach a process that did not start the run: it answers from
    the database (running while the rounds' lock is held, then the written round)."""
    w = world
    _requests(session, w)
    office.app.state.round_runs = RoundRuns(inline=True)
    office.app.dependency_overrides[round_limits] = lambda: FAST
    office.app.dependency_overrides[web_now] = lambda: w.at(8) - timedelta(days=2)
    other = RoundRuns()  # another worker: it never saw the run
    token = acquire(db.engine, ROUND_LOCK, "another worker", timedelta(minutes=5))
    running = other.elsewhere(db.engine, "rrn_somerun")
    assert running is not None and running.phase == "elsewhere" and not running.done
    release(db.engine, ROUND_LOCK, token)
    assert other.elsewhere(db.engine, "rrn_somerun") is None  # no lock, no round of that run
    r = _post(office, "/office/rounds", "/office/rounds", {})
    run_path = r.headers["location"]
    office.app.state.round_runs = other  # the next polls reach the other worker
    rnd = session.exec(select(AllocationRound)).one()
    session.commit()
    box = office.get(f"{run_path}/progress", headers=ZH)
    assert box.status_code == 200 and box.headers["HX-Redirect"] == f"/office/rounds/{rnd.id}"
    assert office.get(run_path, follow_redirects=False).headers["location"] == f"/office/rounds/{rnd.id}"
    assert office.get("/office/rounds/runs/rrn_neverstarted").status_code == 404


def test_another_process_shows_the_runs_phase_and_figures_as_the_run_reports_them(office, world, session, db):
    """The running process writes the run's phase and latest figures into the rounds' lock; a
    process that did not start the run shows them rather than only "running elsewhere"."""
    other = RoundRuns()
    office.app.state.round_runs = other
    token = acquire(db.engine, ROUND_LOCK, "another worker", timedelta(minutes=5))
    try:
        report(db.engine, ROUND_LOCK, {"run_id": "rrn_mine", "phase": "cp_sat", "info": {"requests": 7, "objective": 42, "upper_bound": 50}})
        mine = other.elsewhere(db.engine, "rrn_mine")
        assert (mine.phase, mine.info["objective"], mine.done) == ("cp_sat", 42, False)
        assert other.elsewhere(db.engine, "rrn_someone_elses").phase == "elsewhere"
        box = office.get("/office/rounds/runs/rrn_mine/progress", headers=ZH)
        assert box.status_code == 200 and 'data-phase="cp_sat"' in box.text
        assert "目前最优分配：42" in box.text and "任何分配都不超过：50" in box.text and 'hx-trigger="every 1s"' in box.text
    finally:
        release(db.engine, ROUND_LOCK, token)


def test_a_run_reports_each_phase_for_the_other_processes(office, world, session, db, monkeypatch):
    w = world
    _requests(session, w)
    told: list[dict] = []
    monkeypatch.setattr(round_runs, "report", lambda engine, name, state: told.append({"name": name, **state}))
    run = RoundRuns(inline=True).start(db.engine, w.admin, FAST, now=w.at(8) - timedelta(days=2))
    assert run.phase == "written"
    assert {t["name"] for t in told} == {ROUND_LOCK} and {t["run_id"] for t in told} == {run.id}
    phases = [t["phase"] for t in told]
    assert phases[0] == "loaded" and phases[-1] == "written" and "solved" in phases
    assert told[0]["info"]["requests"] >= 1


# --- refusals -----------------------------------------------------------------------------------


def test_the_office_pages_refuse_other_roles_forms_without_csrf_and_unknown_ids(client, world, session):
    _sign_in_as(client, session, world.member_a)
    for path in ("/office/programmes/new", f"/office/enterprises/{world.ent_a.id}", "/office/vouchers/new"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/office/enterprises/{world.ent_b.id}/verify", data={"csrf": "x"}).status_code == 403
    client.cookies.clear()
    _sign_in_as(client, session, world.admin)
    assert client.post(f"/office/enterprises/{world.ent_b.id}/verify", data={}).status_code == 403
    assert _fresh(session, Enterprise, world.ent_b.id).verified_at is None
    for path in ("/office/programmes/prg_nope", "/office/enterprises/ent_nope", "/office/vouchers/vch_nope",
                 "/office/rounds/rnd_nope", "/office/rounds/runs/rrn_nope"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    page = client.get("/office/enterprises")
    assert client.post("/office/enterprises/ent_nope/verify", data={"csrf": csrf_of(page.text)}).status_code == 404


def test_every_office_page_reads_in_english_too(office, world, session):
    prog = _programme(session, world)
    voucher = v.issue_voucher(session, world.admin, prog.id, world.ent_a.id, "testing", 100_000)
    session.commit()
    pages = {
        "/office/programmes": "Voucher programmes",
        "/office/programmes/new": "New voucher programme",
        f"/office/programmes/{prog.id}": "Share of the fee (%)",
        "/office/enterprises": "Register an enterprise",
        f"/office/enterprises/{world.ent_a.id}": "Suspend booking",
        "/office/vouchers": "Issue vouchers",
        "/office/vouchers/new": "A list from a CSV",
        f"/office/vouchers/{voucher.id}": "Revoke the voucher",
        "/office/rounds": "Run a round now",
    }
    for path, words in pages.items():
        r = office.get(path, headers=EN)
        assert r.status_code == 200 and words in r.text, path
        assert "创新券项目" not in r.text, path  # the console's nav is in English too
