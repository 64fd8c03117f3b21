"""The public web pages render real data and escape it."""
from __future__ import annotations

from fixtures import factories


def test_catalogue_instrument_and_unit_pages(client, world, session):
    r = client.get("/")
    assert r.status_code == 200 and "Powder XRD" in r.text and r.headers["content-type"].startswith("text/html")
    page = client.get(f"/instruments/{world.xrd.id}")
    assert page.status_code == 200 and "08:30–12:00" in page.text and "¥200.00/h" in page.text
    unit = client.get(f"/owner-units/{world.xrd.owner_unit_id}")
    assert unit.status_code == 200 and "FE-SEM" in unit.text
    assert client.get("/instruments/ins_missing").status_code == 404


def test_pages_escape_what_units_publish(client, world, session):
    evil = factories.unit(session, "<script>alert(1)</script> Lab")
    session.commit()
    r = client.get(f"/owner-units/{evil.id}")
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
