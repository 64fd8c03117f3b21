"""Finding instruments on the demo catalogue: Chinese and English words, synonyms, any case,
filters, and a ranking that puts the instrument a person named first."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fixtures import factories
from fixtures.catalogue import INSTRUMENTS, UNITS


@pytest.fixture
def demo_client(db, client: TestClient) -> TestClient:
    """The demo's units and instruments exactly as ``fixtures/demo.py`` names them (no bookings)."""
    with db.session() as session:
        for u in UNITS:
            unit = factories.unit(session, name=u["name"], name_en=u["name_en"])
            for key, _, cat, code, name, name_en, make, model, _, value, fee_h, fee_s, modes in INSTRUMENTS:
                if key == u["key"]:
                    factories.instrument(
                        session,
                        unit,
                        name=name,
                        name_en=name_en,
                        category=cat,
                        category_code=code,
                        manufacturer=make,
                        model=model,
                        original_value_fen=value * 100,
                        fee_hour_external_fen=fee_h * 100,
                        fee_sample_external_fen=fee_s * 100,
                        service_modes=modes,
                    )
        session.commit()
    return client


def _find(client: TestClient, **params: object) -> list[dict]:
    r = client.get("/api/v1/instruments", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()


def _models(rows: list[dict]) -> list[str]:
    return [r["model"] for r in rows]


def _models_in(*categories: str) -> set[str]:
    return {row[7] for row in INSTRUMENTS if row[2] in categories}


def test_search_words_synonyms_and_case(demo_client: TestClient) -> None:
    em = _models_in("SEM", "TEM")
    assert len(em) == 8
    assert set(_models(_find(demo_client, q="电镜"))) == em
    assert set(_models(_find(demo_client, q="electron microscope"))) == em
    assert set(_models(_find(demo_client, q="Electron Microscope"))) == em
    nmr = _models_in("NMR")
    assert set(_models(_find(demo_client, category="nmr"))) == nmr
    assert set(_models(_find(demo_client, category="0303"))) == nmr
    assert set(_models(_find(demo_client, category="核磁共振波谱"))) == nmr
    assert set(_models(_find(demo_client, q="核磁"))) == nmr
    ms = _models_in("LC-MS", "GC-MS", "ICP-MS")
    assert set(_models(_find(demo_client, q="质谱"))) >= ms
    assert set(_models(_find(demo_client, q="mass spec"))) >= ms
    assert set(_models(_find(demo_client, q="MASS SPEC"))) == set(_models(_find(demo_client, q="mass spec")))
    assert set(_models(_find(demo_client, q="lcms"))) == _models_in("LC-MS")
    assert set(_models(_find(demo_client, q="bruker"))) == {r[7] for r in INSTRUMENTS if r[6] == "Bruker"}
    assert _find(demo_client, q="no such instrument anywhere") == []
    cats = {c["category"]: c for c in demo_client.get("/api/v1/categories").json()}
    assert cats["NMR"]["name_zh"] == "核磁共振波谱" and cats["SEM"]["name_en"] == "Scanning electron microscope"
    assert all(c["name_zh"] and c["name_en"] for c in cats.values())  # the table covers the demo catalogue


def test_search_ranks_the_named_instrument_first(demo_client: TestClient) -> None:
    rows = _find(demo_client, q="su8010")
    assert _models(rows) == ["SU8010"]
    # the exact model first, then its SEM/TEM siblings by category; a stable order
    rows = _find(demo_client, q="GeminiSEM 500")
    assert rows[0]["model"] == "GeminiSEM 500"
    rows = _find(demo_client, q="sem")
    assert rows[0]["category"] == "SEM" and {r["category"] for r in rows[:4]} == {"SEM"}
    first = _find(demo_client, q="电镜")
    assert first == _find(demo_client, q="电镜")
    # name prefix (400 MHz …) before a category match
    rows = _find(demo_client, q="400 MHz")
    assert rows[0]["model"] == "AVANCE III HD 400"
    # the owner unit's name finds its instruments
    rows = _find(demo_client, q="渤海生物医药")
    assert rows and len(rows) == sum(1 for r in INSTRUMENTS if r[0] == "bohai")


def test_search_filters(demo_client: TestClient) -> None:
    cheap = _find(demo_client, max_fee_hour_fen=30000)
    assert cheap and all(r["fee_hour_external_fen"] <= 30000 for r in cheap)
    dear = _find(demo_client, q="电镜", min_fee_hour_fen=100000)
    assert dear and all(r["fee_hour_external_fen"] >= 100000 for r in dear)
    assert set(_models(dear)) < _models_in("SEM", "TEM")
    selfop = _find(demo_client, q="电镜", service_mode="self_operated")
    assert all("self_operated" in r["service_modes"] for r in selfop)
    unit = _find(demo_client)[0]["owner_unit_id"]
    assert all(r["owner_unit_id"] == unit for r in _find(demo_client, owner_unit_id=unit, q="质谱"))
    page1 = _find(demo_client, q="质谱", limit=3)
    page2 = _find(demo_client, q="质谱", limit=3, offset=3)
    assert [r["id"] for r in page1 + page2] == [r["id"] for r in _find(demo_client, q="质谱")[:6]]
    r = demo_client.get("/api/v1/instruments", params={"min_fee_hour_fen": -1})
    assert r.status_code == 422



def test_bookable_within_days(client, world, session) -> None:
    """Free time net of notice and bookings within the look-ahead (an approximation; the truthful
    slots come from the bookable-time endpoint)."""

    from instruments.policy import policy_of
    from scheduler import booking_actions as actions
    from scheduler.booking.free_time import free_within

    w = world
    insts = [w.xrd, w.sem, w.other]
    now = w.at(0)  # midnight before a working day
    assert [i.id for i in free_within(session, insts, now, 1)] == [i.id for i in insts]
    # fill the XRD's whole day: no longer bookable within that one day, still within a fortnight
    for lo, hi in (((8, 30), (12, 0)), ((13, 30), (17, 30))):
        actions.book(
            session, w.manager, actions.BookingInput(w.xrd.id, w.at(*lo), w.at(*hi), "operator_run"), now=now
        )
    session.commit()
    assert w.xrd.id not in {i.id for i in free_within(session, insts, now, 1)}
    assert w.xrd.id in {i.id for i in free_within(session, insts, now, 14)}
    # a notice period longer than the look-ahead leaves nothing to book in it
    policy = policy_of(session, w.sem.id)
    policy.lead_minutes = {m: 3 * 24 * 60 for m in policy.lead_minutes}
    session.add(policy)
    session.commit()
    assert w.sem.id not in {i.id for i in free_within(session, insts, now, 2)}
    session.rollback()  # end the read (SQLite transactions here take the write lock)
    # over HTTP: the filter is accepted within its bounds, and a fortnight always holds a workday
    got = client.get("/api/v1/instruments", params={"bookable_within_days": 14, "q": "XPS"})
    assert got.status_code == 200, got.text
    assert [r["id"] for r in got.json()] == [w.other.id]
    assert client.get("/api/v1/instruments", params={"bookable_within_days": 15}).status_code == 422
