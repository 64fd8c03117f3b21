"""Public web pages: the catalogue, an instrument's page with this fortnight's free time, and each
owner unit's public page (profile, rules, news, service cases). Server-rendered, no JavaScript."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlmodel import select

from instruments.availability import zone
from instruments.catalogue import get_instrument
from instruments.errors import NotFound
from instruments.inventory import Instrument
from instruments.units import Lab, OwnerUnit
from scheduler.booking.free_time import free_time

from .deps import SessionDep

router = APIRouter(include_in_schema=False)

STYLE = """body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}
h1 a{color:inherit;text-decoration:none}.muted{color:#666}.free{background:#e6f4ea}"""


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=zh><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{escape(title)} · labshare</title><style>{STYLE}</style>"
        f"<h1><a href='/'>labshare</a></h1><p><a href='/home'>我的主页 My home</a> · <a href='/login'>登录 Sign in</a></p>{body}"
        f"<p class=muted>API: <a href='/docs'>/docs</a> · <a href='/openapi.json'>/openapi.json</a></p></html>"
    )


def yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


@router.get("/", response_class=HTMLResponse)
def catalogue(session: SessionDep, category: str | None = None) -> HTMLResponse:
    q = select(Instrument, OwnerUnit).join(OwnerUnit, OwnerUnit.id == Instrument.owner_unit_id)
    if category:
        q = q.where(Instrument.category == category)
    rows = session.exec(q.order_by(Instrument.category, Instrument.name)).all()
    cats = sorted({i.category for i, _ in session.exec(select(Instrument, OwnerUnit).join(OwnerUnit)).all()})
    links = " · ".join(f"<a href='/?category={escape(c)}'>{escape(c)}</a>" for c in cats)
    body = "".join(
        f"<tr><td>{escape(i.category)}</td><td><a href='/instruments/{i.id}'>{escape(i.name)}</a><br>"
        f"<span class=muted>{escape(i.manufacturer)} {escape(i.model)}</span></td>"
        f"<td><a href='/owner-units/{u.id}'>{escape(u.name)}</a></td><td>{yuan(i.fee_hour_external_fen)}/h</td></tr>"
        for i, u in rows
    )
    return page(
        "Instruments",
        f"<p>Shared large scientific instruments open to enterprises.</p><p>{links}</p>"
        f"<table><tr><th>Category</th><th>Instrument</th><th>Owner unit</th><th>External fee</th></tr>{body}</table>",
    )


@router.get("/instruments/{instrument_id}", response_class=HTMLResponse)
def instrument_page(instrument_id: str, session: SessionDep) -> HTMLResponse:
    inst = get_instrument(session, instrument_id)
    unit = session.get(OwnerUnit, inst.owner_unit_id)
    tz = zone(inst.timezone)
    start = datetime.combine(datetime.now(tz).date(), time(0), tz)
    ft = free_time(session, inst.id, start, start + timedelta(days=14), None)
    slots = (
        "".join(f"<tr class=free><td>{s:%Y-%m-%d %a}</td><td>{s:%H:%M}–{e:%H:%M}</td></tr>" for s, e in ft.free)
        or "<tr><td colspan=2>No free time in the next 14 days.</td></tr>"
    )
    warn = "".join(f"<p class=muted>{escape(w)}</p>" for w in ft.warnings)
    facts = [
        ("Owner unit", f"<a href='/owner-units/{unit.id}'>{escape(unit.name)}</a>" if unit else ""),
        ("Make / model", escape(f"{inst.manufacturer} {inst.model}")),
        ("Category", escape(inst.category)),
        ("Service modes", escape(", ".join(inst.service_modes))),
        ("Status", escape(str(inst.status))),
        ("External fee", f"{yuan(inst.fee_hour_external_fen)}/h, {yuan(inst.fee_sample_external_fen)}/sample"),
        ("Location", escape(inst.location)),
        ("Contact", escape(inst.contact)),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return page(
        inst.name,
        f"<h2>{escape(inst.name)}</h2><p class=muted>{escape(inst.name_en)}</p><table>{rows}</table>"
        f"<h3>Free time, next 14 days ({escape(inst.timezone)})</h3>{warn}<table>{slots}</table>",
    )


@router.get("/owner-units/{unit_id}", response_class=HTMLResponse)
def unit_page(unit_id: str, session: SessionDep) -> HTMLResponse:
    unit = session.get(OwnerUnit, unit_id)
    if unit is None:
        raise NotFound(f"No owner unit {unit_id!r}.")
    labs = session.exec(select(Lab).where(Lab.owner_unit_id == unit.id).order_by(Lab.name)).all()
    insts = session.exec(select(Instrument).where(Instrument.owner_unit_id == unit.id).order_by(Instrument.name)).all()
    news = "".join(f"<li>{escape(str(n.get('title', n)))}</li>" for n in unit.news) or "<li class=muted>none yet</li>"
    cases = (
        "".join(f"<li>{escape(str(c.get('title', c)))}</li>" for c in unit.service_cases)
        or "<li class=muted>none yet</li>"
    )
    return page(
        unit.name,
        (
            f"<h2>{escape(unit.name)}</h2><p class=muted>{escape(unit.name_en)} · {escape(unit.address)}</p>"
            f"<p>{escape(unit.profile)}</p><h3>Management rules</h3><p>{escape(unit.management_rules)}</p>"
            f"<h3>Labs</h3><ul>{''.join(f'<li>{escape(lab.name)} ({escape(lab.building)} {escape(lab.room)})</li>' for lab in labs)}</ul>"
            f"<h3>Instruments</h3><ul>{''.join(f'<li><a href=/instruments/{i.id}>{escape(i.name)}</a></li>' for i in insts)}</ul>"
            f"<h3>News</h3><ul>{news}</ul><h3>Open-service cases</h3><ul>{cases}</ul>"
            f"<p>Contact: {escape(unit.contact_name)} {escape(unit.contact_phone)} {escape(unit.contact_email)}</p>"
        ),
    )
