"""The feeds' own VEVENT writer: correct RFC 5545 text, and byte for byte what icalendar writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from scheduler.calendars.calendar_feeds import (
    Names,
    _busy_event,
    _calendar_head,
    _closed_event,
    _fold,
    _full_event,
    _open_event,
    busy_vevent,
    closed_vevent,
    full_vevent,
    open_vevent,
)

ZONES = ["Asia/Shanghai", "UTC", "Etc/UTC", "Africa/Abidjan", "Europe/London", "America/Argentina/Buenos_Aires"]
T0 = datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
TRICKY = (
    'a,b;c\\d\\\\e\nf\r\ng "q" :colon: \\N \\n ^caret^ '
    + "大型科学仪器开放共享平台，样品预处理；低温透射电子显微镜（冷冻电镜）测试，请提前两小时到场。" * 3
)


def booking(status: str = "confirmed", notes: str = "", reason: str = "", **kw) -> SimpleNamespace:
    start = kw.pop("start", T0 + timedelta(days=3))
    return SimpleNamespace(
        id=kw.pop("id", "bk_0123456789"),
        status=status,
        sequence=kw.pop("sequence", 2),
        service_mode="operator_run",
        sample_count=kw.pop("sample_count", 4),
        notes=notes,
        cancel_reason=reason,
        start=start,
        end=start + timedelta(hours=2),
        blocked_start=start - timedelta(minutes=30),
        blocked_end=start + timedelta(hours=2, minutes=30),
        created_at=T0,
        updated_at=kw.pop("updated_at", T0 + timedelta(seconds=1)),
    )


def physical_lines(body: bytes) -> list[bytes]:
    assert body.endswith(b"\r\n")
    lines = body[:-2].split(b"\r\n")
    assert all(b"\n" not in ln and b"\r" not in ln for ln in lines), "bare CR or LF in the body"
    return lines


def test_tricky_text_round_trips_exactly_and_lines_stay_within_75_octets():
    names = Names("冷冻电镜, Titan Krios; 300kV", TRICKY, "Asia/Shanghai", "某某生物科技有限公司, R&D; \\ lab", "张三")
    b = booking("cancelled", notes=TRICKY, reason="仪器故障；" * 20 + "\\;,")
    head, foot = _calendar_head("feed", ["Asia/Shanghai"])
    body = head + full_vevent(b, names) + foot

    for line in physical_lines(body):
        assert len(line) <= 75, line
        line.decode("utf-8")  # no multi-byte character split across a fold
    ev = Calendar.from_ical(body).walk("VEVENT")[0]
    # newlines in any form come back as LF (RFC 5545 has no escape for a bare CR); all else exact
    tricky = TRICKY.replace("\r\n", "\n")
    assert str(ev["LOCATION"]) == tricky
    desc = str(ev["DESCRIPTION"]).split("\n")
    assert desc[0] == f"Booking {b.id} (cancelled), operator_run"
    assert "\n".join(desc[3 : 3 + tricky.count("\n") + 1]) == "Notes: " + tricky
    assert desc[-1] == "Cancelled: " + b.cancel_reason
    assert str(ev["SUMMARY"]) == "Cancelled: 冷冻电镜, Titan Krios; 300kV · 某某生物科技有限公司, R&D; \\ lab"
    # date-times are written to the second, in the instrument's zone
    assert ev["DTSTART"].dt == b.start.replace(microsecond=0) and ev["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert ev["DTEND"].dt == b.end.replace(microsecond=0)
    assert ev["DTSTAMP"].dt == b.updated_at.replace(microsecond=0)
    assert int(ev["SEQUENCE"]) == 3 and str(ev["STATUS"]) == "CANCELLED" and str(ev["TRANSP"]) == "TRANSPARENT"


def test_the_writer_matches_icalendar_on_the_tricky_text():
    names = Names(TRICKY.replace("\\N", ""), TRICKY.replace("\\N", ""), "Asia/Shanghai", "E", "O")
    b = booking(notes=TRICKY.replace("\\N", ""))
    assert full_vevent(b, names) == _full_event(b, names).to_ical()


# icalendar reads a literal "\N" in the input as a newline; the writer keeps it (the only difference)
free_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200).filter(lambda s: "\\N" not in s)
some_text = st.one_of(
    free_text,
    st.lists(st.sampled_from([*"ab ,;:\\^\"'\n\rN·中文字符é𝄞", "\r\n"]), max_size=150)
    .map("".join)
    .filter(lambda s: "\\N" not in s),
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["tentative", "confirmed", "checked_in", "completed", "cancelled", "no_show"]),
    some_text,
    some_text,
    some_text,
    some_text,
    st.sampled_from(ZONES),
    moments,
    moments,
    st.integers(0, 50),
    st.integers(0, 9),
)
def test_writer_is_byte_for_byte_icalendar(status, notes, location, enterprise, operator, tzid, start, stamp, seq, n):
    """Invariant: for any booking text and zone, the feed writer emits exactly icalendar's bytes."""
    assume("\\N" not in notes[::-1] and "\\N" not in operator[::-1])  # reversed below
    b = booking(status, notes=notes, reason=notes[::-1], start=start, updated_at=stamp, sequence=seq, sample_count=n)
    names = Names(operator[::-1] or "XRD", location, tzid, enterprise, operator)
    assert full_vevent(b, names) == _full_event(b, names).to_ical()
    assert busy_vevent(b, tzid) == _busy_event(b, tzid).to_ical()
    inst = SimpleNamespace(id="ins_" + str(seq), name=names.instrument, timezone=tzid)
    exc = SimpleNamespace(id="exc_1", start=b.start, end=b.end, title=enterprise, reason=notes)  # no title: the reason
    assert closed_vevent(inst, exc, stamp) == _closed_event(inst, exc, stamp).to_ical()
    lo = b.start.astimezone(ZoneInfo(tzid))
    assert (
        open_vevent(inst, lo, lo + timedelta(hours=8), stamp)
        == _open_event(inst, lo, lo + timedelta(hours=8), stamp).to_ical()
    )


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=400))
def test_folding_keeps_lines_short_and_unfolds_to_the_original(text):
    """Invariant: every physical line ≤ 75 octets, valid UTF-8, and unfolding restores the line."""
    line = "DESCRIPTION:" + text
    folded = _fold(line)
    lines = physical_lines(folded)
    for i, ln in enumerate(lines):
        assert len(ln) <= 75
        assert (i == 0) or ln.startswith(b" ")
        ln.decode("utf-8")
    assert b"".join([lines[0], *(ln[1:] for ln in lines[1:])]).decode() == line
