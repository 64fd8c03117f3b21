"""The bookings listing writes its rows straight to JSON (``schemas.as_json``) instead of building,
validating and writing a ``BookingOut`` per row: these tests hold it to the very bytes the response
model writes for the same bookings — instruments in several zones (half-hour and negative offsets),
times with microseconds, empty and filled optional times, a voucher reserved, one consumed, text
that JSON must escape — page by page and for each role, and to the same OpenAPI schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from booking_api.schemas import BookingOut
from scheduler.booking.bookings import Booking, BookingStatus
from scheduler.money.price_split import splits_of
from scheduler.money.vouchers import Voucher, VoucherProgramme, VoucherStatus
from tests.booking_api.conftest import auth
from tests.world import raw_booking

API = "/api/v1"
ZONES = {"xrd": "Asia/Shanghai", "sem": "Asia/Kolkata", "other": "America/St_Johns"}


def _bookings(session, w) -> list[Booking]:  # noqa: ANN001
    """Six bookings over the three instruments, two days apart, in every shape the answer takes."""
    for name, tz in ZONES.items():
        getattr(w, name).timezone = tz
    made = []
    for k in range(6):
        start = w.at(9) + timedelta(days=2 * k, microseconds=123_456 * k)
        b = raw_booking(w, start, start + timedelta(hours=1, minutes=30), enterprise_id=(w.ent_a, w.ent_b)[k % 2].id)
        b.instrument_id = (w.xrd, w.sem, w.other)[k % 3].id
        b.price_fen = 10_000 * (k + 1)
        b.sample_count = k
        b.notes = ['', 'XRD "粉末" 两个\n<b>&</b> \\ é', "plain"][k % 3]
        b.created_at = datetime(2026, 1, 2, 3, 4, 5, 600_007, tzinfo=UTC)
        if k == 3:
            b.status = BookingStatus.completed
            b.checked_in_at, b.checked_out_at = start, start + timedelta(hours=1)
        if k == 4:
            b.status, b.cancelled_at, b.cancel_reason = BookingStatus.cancelled, start - timedelta(days=1), "计划有变"
        session.add(b)
        made.append(b)
    prog = VoucherProgramme(name="P", year=w.day.year, total_budget_fen=10_000_000)
    session.add(prog)
    session.flush()
    expires = datetime(2027, 6, 30, 15, 59, 59, 999_999, tzinfo=UTC)
    used = ((made[0], VoucherStatus.reserved, 5_000), (made[1], VoucherStatus.consumed, 7_000))
    for n, (b, status, fen) in enumerate(used):
        session.add(
            Voucher(
                code=f"TJ2026A000000001{n}X",
                programme_id=prog.id,
                voucher_type="testing",
                holder_enterprise_id=b.enterprise_id,
                face_value_fen=50_000,
                status=status,
                expires_at=expires,
                booking_id=b.id,
                reserved_fen=fen if status == VoucherStatus.reserved else 0,
                consumed_fen=fen if status == VoucherStatus.consumed else 0,
            )
        )
    session.commit()
    return made


def _model_json(session, bookings: list[Booking], zones: dict[str, str]) -> bytes:  # noqa: ANN001
    """What the response model writes for these bookings (validated as models, then dumped)."""
    splits = splits_of(session, bookings)
    answers = [BookingOut.of(b, zones[b.instrument_id], splits[b.id]) for b in bookings]
    return TypeAdapter(list[BookingOut]).dump_json(answers)


def test_the_listing_writes_the_same_bytes_as_the_response_model(client, world, session):
    w = world
    made = _bookings(session, w)
    zones = {getattr(w, name).id: tz for name, tz in ZONES.items()}
    in_order = sorted(made, key=lambda b: (b.start, b.id))
    for who, sees in (("admin", in_order), ("member_a", [b for b in in_order if b.enterprise_id == w.ent_a.id])):
        r = client.get(f"{API}/bookings", params={"limit": 500}, headers=auth(w, who))
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        assert r.content == _model_json(session, sees, zones)
        # pages of 4: the same bytes, page by page
        for offset in (0, 4):
            page = client.get(f"{API}/bookings", params={"limit": 4, "offset": offset}, headers=auth(w, who))
            assert page.content == _model_json(session, sees[offset : offset + 4], zones)
    listed = {b["id"]: b for b in client.get(f"{API}/bookings", headers=auth(w, "admin")).json()}
    # a few values spelled out, not only compared with the model's
    first, second, third = (listed[b.id] for b in made[:3])
    assert first["start"].endswith("+08:00") and second["start"].endswith("+05:30")
    assert third["start"].endswith("-03:30") and third["start"][-13:-6] == ".246912"
    assert first["created_at"] == "2026-01-02T11:04:05.600007+08:00"
    assert first["voucher_id"] == first["price_split"]["vouchers"][0]["voucher_id"]
    assert first["price_split"] == {
        "price_fen": 10_000,
        "voucher_fen": 5_000,
        "enterprise_fen": 5_000,
        "lapsed_fen": 45_000,
        "vouchers": [
            {
                "voucher_id": first["voucher_id"],
                "code": "TJ2026A0000000010X",
                "status": "reserved",
                "face_value_fen": 50_000,
                "pays_fen": 5_000,
                "lapses_fen": 45_000,
                "expires_at": "2027-06-30T23:59:59.999999+08:00",
                "refusals": [],
            }
        ],
    }
    assert second["price_split"]["vouchers"][0]["expires_at"] == "2027-06-30T21:29:59.999999+05:30"
    assert second["price_split"]["voucher_fen"] == 7_000 and second["price_split"]["enterprise_fen"] == 13_000
    assert second["notes"] == 'XRD "粉末" 两个\n<b>&</b> \\ é'
    assert listed[made[4].id]["cancel_reason"] == "计划有变" and listed[made[4].id]["status"] == "cancelled"
    assert listed[made[5].id]["voucher_id"] is None and listed[made[5].id]["checked_in_at"] is None


def test_an_empty_listing_is_an_empty_array(client, world):
    r = client.get(f"{API}/bookings", headers=auth(world, "member_b"))
    assert r.status_code == 200 and r.content == b"[]" and r.headers["content-type"] == "application/json"


def test_the_openapi_schema_still_documents_the_listing_as_booking_answers(client):
    get = client.get("/openapi.json").json()["paths"]["/api/v1/bookings"]["get"]
    schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array" and schema["items"] == {"$ref": "#/components/schemas/BookingOut"}
