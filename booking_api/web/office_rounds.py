"""The programme office's allocation rounds (/office/rounds): run one now (the service behind
``POST /api/v1/rounds``, in the background: ``scheduler.allocation.round_runs``) and watch its
phase while the page polls with htmx; then its results: objective, bound and gap, the comparison
with first-come-first-served (the solver's ``fcfs`` baseline, computed by the round), every
placed request with its booking and every unplaced one with its reason in people's terms
(``enterprise.reason_text``). The solver's limits come from settings (``round_limits``, which
tests override with deterministic ones)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from instruments.inventory import Instrument
from instruments.settings import get_settings
from scheduler.allocation.round_runs import Limits, RoundRun, RoundRuns
from scheduler.allocation.rounds import AllocationRound, latest_rounds
from scheduler.booking.booking_requests import BookingRequest
from scheduler.booking.bookings import Booking
from scheduler.booking.enterprises import Enterprise

from ..deps import SessionDep
from .clock import NowDep
from .enterprise import Gettext, gettext, reason_text, span, zone
from .error_pages import not_found_page
from .owned import CsrfChecked
from .roles import OfficeDep
from .templating import render

router = APIRouter(include_in_schema=False)


def round_limits() -> Limits:
    s = get_settings()
    return Limits(time_limit=s.round_time_limit, workers=s.round_workers, seed=s.round_seed)


LimitsDep = Annotated[Limits, Depends(round_limits)]


def runs_of(request: Request) -> RoundRuns:
    """The app's runs (``install`` puts one there; tests may put an inline one)."""
    state = request.app.state
    if getattr(state, "round_runs", None) is None:
        state.round_runs = RoundRuns()
    return state.round_runs


def phase_label(_: Gettext, run: RoundRun) -> str:
    return {
        "starting": _("Starting: waiting for the round's lock"),
        "loaded": _("Requests and schedules loaded"),
        "warm_start": _("Solving: a first allocation found"),
        "cp_sat": _("Solving: improving the allocation"),
        "components": _("Solving: independent parts in parallel"),
        "lns": _("Solving: improving the allocation"),
        "patterns": _("Solving: bounding the best possible"),
        "solved": _("Solved: writing the bookings"),
        "written": _("Done"),
        "failed": _("The round failed; nothing was written."),
        "busy": _("Another round is running; try again when it has finished."),
        "elsewhere": _("Running in another server process: this page follows it until its results are written."),
    }.get(run.phase, _("Solving"))


@router.get("/office/rounds")
def rounds(request: Request, session: SessionDep, actor: OfficeDep) -> Response:
    return render(request, "office_rounds.html", rows=latest_rounds(session, 50, 0), limits=round_limits(), zone=zone())


@router.post("/office/rounds")
def run_now(request: Request, actor: OfficeDep, csrf: CsrfChecked, limits: LimitsDep, now: NowDep) -> Response:
    run = runs_of(request).start(request.app.state.engine, actor, limits, now=now, triggered_by=actor.user_id or "")
    return RedirectResponse(f"/office/rounds/runs/{run.id}", status_code=303)


def _progress(request: Request, run: RoundRun) -> dict[str, Any]:
    _ = gettext(request)
    info = run.info
    return {
        "run": run,
        "label": phase_label(_, run),
        "requests": info.get("requests"),
        "objective": info.get("objective"),
        "bound": info.get("upper_bound") or info.get("bound"),
        "seconds": info.get("seconds"),
    }


@router.get("/office/rounds/runs/{run_id}")
def run_page(request: Request, run_id: str, actor: OfficeDep) -> Response:
    _ = gettext(request)
    runs = runs_of(request)
    run = runs.get(run_id) or runs.elsewhere(request.app.state.engine, run_id)
    if run is None:
        return not_found_page(
            request, _("This run is not known here (the server may have restarted): see the rounds list.")
        )
    if run.done and run.round_id:
        return RedirectResponse(f"/office/rounds/{run.round_id}", status_code=303)
    return render(request, "office_round_run.html", **_progress(request, run))


@router.get("/office/rounds/runs/{run_id}/progress")
def run_progress(request: Request, run_id: str, actor: OfficeDep) -> Response:
    """The progress box the run page polls; once the round is written, htmx is sent to its results."""
    _ = gettext(request)
    runs = runs_of(request)
    run = runs.get(run_id) or runs.elsewhere(request.app.state.engine, run_id)
    if run is None:
        return not_found_page(
            request, _("This run is not known here (the server may have restarted): see the rounds list.")
        )
    response = render(request, "_round_progress.html", **_progress(request, run))
    if run.done and run.round_id:
        response.headers["HX-Redirect"] = f"/office/rounds/{run.round_id}"
    return response


def _placed(session, placed: dict[str, str], tz: str) -> list[dict[str, Any]]:  # noqa: ANN001
    reqs = {r.id: r for r in session.exec(select(BookingRequest).where(col(BookingRequest.id).in_(set(placed))))}
    books = {b.id: b for b in session.exec(select(Booking).where(col(Booking.id).in_(set(placed.values()))))}
    insts = {
        i.id: i
        for i in session.exec(
            select(Instrument).where(col(Instrument.id).in_({b.instrument_id for b in books.values()}))
        )
    }
    ents = {
        e.id: e
        for e in session.exec(
            select(Enterprise).where(col(Enterprise.id).in_({r.enterprise_id for r in reqs.values()}))
        )
    }
    out = []
    for rid, bid in placed.items():
        r, b = reqs.get(rid), books.get(bid)
        inst = insts.get(b.instrument_id) if b else None
        out.append(
            {
                "request_id": rid,
                "enterprise": ents[r.enterprise_id].name if r and r.enterprise_id in ents else "",
                "instrument": inst.name if inst else "",
                "when": span(b.start, b.end, inst.timezone if inst else tz) if b else "",
                "booking_id": bid,
            }
        )
    return sorted(out, key=lambda x: (x["instrument"], x["when"]))


def _unplaced(_: Gettext, session, unplaced: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: ANN001
    reqs = {r.id: r for r in session.exec(select(BookingRequest).where(col(BookingRequest.id).in_(set(unplaced))))}
    ents = {
        e.id: e
        for e in session.exec(
            select(Enterprise).where(col(Enterprise.id).in_({r.enterprise_id for r in reqs.values()}))
        )
    }
    insts = {
        i.id: i.name
        for i in session.exec(
            select(Instrument).where(
                col(Instrument.id).in_({r.instrument_id for r in reqs.values() if r.instrument_id})
            )
        )
    }
    out = []
    for rid, why in unplaced.items():
        r = reqs.get(rid)
        what = ""
        if r is not None:
            what = (
                insts.get(r.instrument_id or "", "")
                if r.instrument_id
                else _("any {category} instrument").format(category=r.category)
            )
        out.append(
            {
                "request_id": rid,
                "enterprise": ents[r.enterprise_id].name if r and r.enterprise_id in ents else "",
                "what": what,
                "minutes": r.duration_minutes if r else None,
                "reason": reason_text(_, why, r.duration_minutes if r else None) if why else "",
            }
        )
    return sorted(out, key=lambda x: (x["enterprise"], x["request_id"]))


@router.get("/office/rounds/{round_id}")
def round_results(request: Request, round_id: str, session: SessionDep, actor: OfficeDep) -> Response:
    _ = gettext(request)
    rnd = session.get(AllocationRound, round_id)
    if rnd is None:
        return not_found_page(request)
    m = rnd.metrics or {}
    outcomes = m.get("outcomes")
    fcfs = m.get("fcfs_objective")
    gain = None
    if fcfs is not None:
        gain = {
            "points": rnd.objective - int(fcfs),
            "percent": (rnd.objective - int(fcfs)) * 100 / fcfs if fcfs else None,
        }
    return render(
        request,
        "office_round.html",
        r=rnd,
        m=m,
        fcfs=fcfs,
        gain=gain,
        gap_percent=rnd.gap * 100 if rnd.gap is not None else None,
        placed=_placed(session, outcomes["placed"], zone()) if outcomes else [],
        unplaced=_unplaced(_, session, outcomes["unplaced"]) if outcomes else [],
        recorded=outcomes is not None,
        zone=zone(),
    )
