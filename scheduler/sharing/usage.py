"""Metered use of instruments: what really happened, separate from bookings (the plan).

A ``UsageRecord`` is one session at an instrument: from a booking's check-out, an operator's log,
a walk-in or internal use without a booking, or a row of a CSV that an instrument PC or a
spreadsheet exports. Effective time is stored in its parts (set-up, measurement, necessary
post-processing, in minutes); idle running is recorded for the record but never counted.
Money is integer fen; for a checked-out booking the voucher-paid part of the fee is what its
consumed innovation voucher paid (``scheduler.vouchers``); staff and CSV rows give it themselves.

CSV import is all-or-nothing: every row is checked first, every problem is reported with its row
number (the spreadsheet's line number, header = row 1), column and reason, and a file with any
error imports nothing. Any line ending works (``\r\n``, ``\n``, a classic Mac's ``\r``).

Bounded work: a file larger than ``usage_import_max_bytes`` is refused (413) before it is read
whole, one with more than ``usage_import_max_rows`` data rows before any row is checked (a
cheap counting pass), and checking stops at ``usage_import_time_limit`` (settings; each refusal
names its limit). A cell longer than ``MAX_CELL_CHARS`` is a row and column error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time as clock
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, Session, SQLModel, col, select

from instruments.actor import Actor, Role
from instruments.audit import record, snapshot
from instruments.availability import zone
from instruments.catalogue import get_instrument
from instruments.db import MAX_FEN, fen_field, utc_field, utcnow
from instruments.errors import Forbidden, InvalidInput, LimitExceeded, NotFound, PayloadTooLarge
from instruments.ids import new_id
from instruments.inventory import Instrument, ServiceMode
from instruments.settings import get_settings
from scheduler.booking import credit_code
from scheduler.booking.bookings import Booking
from scheduler.booking.enterprises import Enterprise


class UsageSource(StrEnum):
    check_out = "check_out"  # derived from a booking when it is checked out
    operator_log = "operator_log"  # entered by staff for a booking or a session
    walk_in = "walk_in"  # use without a booking (internal or walk-in)
    csv_import = "csv_import"


class UsageRecord(SQLModel, table=True):
    __tablename__ = "usage_record"
    __table_args__ = (
        Index("ix_usage_record_instrument_started", "instrument_id", "started_at"),
        CheckConstraint("voucher_fen <= fee_fen", name="ck_usage_voucher_le_fee"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_usage_rating"),
    )

    id: str = Field(default_factory=lambda: new_id("use"), primary_key=True)
    instrument_id: str = Field(foreign_key="instrument.id", index=True)
    booking_id: str | None = Field(default=None, foreign_key="booking.id", unique=True)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprise.id", index=True)
    user_id: str | None = Field(default=None, foreign_key="app_user.id")
    user_name: str = Field(default="", description="Who used it (free text for walk-ins and imports)")
    source: UsageSource = UsageSource.operator_log
    service_mode: str = ServiceMode.operator_run.value
    external: bool = Field(default=True, description="External user (not of the owner unit)")
    started_at: datetime = utc_field(index=True)
    ended_at: datetime = utc_field()
    setup_minutes: int = Field(default=0, ge=0)
    measure_minutes: int = Field(default=0, ge=0)
    post_minutes: int = Field(default=0, ge=0, description="Necessary post-processing")
    idle_minutes: int = Field(default=0, ge=0, description="Idle running: recorded, never counted")
    samples: int = Field(default=0, ge=0)
    fee_fen: int = fen_field()
    voucher_fen: int = fen_field(description="Part of the fee paid by innovation vouchers")
    rating: int | None = Field(default=None, ge=1, le=5)
    notes: str = ""
    import_batch: str | None = Field(default=None, index=True)
    created_at: datetime = utc_field(default_factory=utcnow)
    created_by: str | None = None

    @property
    def effective_minutes(self) -> int:
        return self.setup_minutes + self.measure_minutes + self.post_minutes


def _require_staff(actor: Actor, inst: Instrument) -> None:
    if actor.manages_unit(inst.owner_unit_id):
        return
    if actor.role == Role.operator and actor.operator_id:
        return  # operators log use of their unit's instruments; scope checked below
    raise Forbidden(f"Only the lab managers or operators of the unit that owns {inst.name} may record its use.")


def _operator_scope(session: Session, actor: Actor, inst: Instrument) -> None:
    if actor.role != Role.operator:
        return
    from instruments.staff import Operator

    op = session.get(Operator, actor.operator_id)
    if op is None or op.owner_unit_id != inst.owner_unit_id:
        raise Forbidden(f"Only the lab managers or operators of the unit that owns {inst.name} may record its use.")


def _validate(u: UsageRecord) -> None:
    if u.started_at.tzinfo is None or u.ended_at.tzinfo is None:
        raise InvalidInput("started_at and ended_at need a UTC offset.", field="started_at")
    if u.ended_at < u.started_at:
        raise InvalidInput("ended_at must not be before started_at.", field="ended_at")
    span = int((u.ended_at - u.started_at).total_seconds() // 60)
    if u.effective_minutes + u.idle_minutes > span:
        raise InvalidInput(
            f"set-up + measurement + post-processing + idle ({u.effective_minutes + u.idle_minutes} min) exceed "
            f"the session's {span} min.",
            field="measure_minutes",
        )
    if u.voucher_fen > u.fee_fen:
        raise InvalidInput("voucher_fen cannot exceed fee_fen.", field="voucher_fen")
    if u.fee_fen > MAX_FEN:
        raise InvalidInput("fee_fen is out of range.", field="fee_fen")
    if u.rating is not None and not 1 <= u.rating <= 5:
        raise InvalidInput("rating is 1 to 5.", field="rating")


def record_usage(session: Session, actor: Actor, usage: UsageRecord) -> UsageRecord:
    """Staff record a session (operator log, walk-in or internal use)."""
    inst = get_instrument(session, usage.instrument_id)
    _require_staff(actor, inst)
    _operator_scope(session, actor, inst)
    _validate(usage)
    if usage.booking_id:
        booking = session.get(Booking, usage.booking_id)
        if booking is None or booking.instrument_id != inst.id:
            raise InvalidInput(f"No booking {usage.booking_id!r} of {inst.name}.", field="booking_id")
        existing = session.exec(select(UsageRecord).where(UsageRecord.booking_id == booking.id)).first()
        if existing:
            raise InvalidInput(f"Booking {booking.id} already has usage record {existing.id}.", field="booking_id")
        usage.enterprise_id = usage.enterprise_id or booking.enterprise_id
    if usage.enterprise_id and session.get(Enterprise, usage.enterprise_id) is None:
        raise InvalidInput(f"No enterprise {usage.enterprise_id!r}.", field="enterprise_id")
    usage.created_by = actor.user_id
    session.add(usage)
    session.flush()
    record(session, actor, "usage.record", "usage_record", usage.id, after=snapshot(usage))
    return usage


def record_from_booking(session: Session, actor: Actor, booking: Booking, now: datetime | None = None) -> UsageRecord:
    """The usage a checked-out booking leaves: check-in to check-out counts as measurement time.

    Idempotent: a booking has at most one usage record (a unique column), so this returns the
    existing one when staff already logged the session.
    """
    existing = session.exec(select(UsageRecord).where(UsageRecord.booking_id == booking.id)).first()
    if existing:
        return existing
    start = booking.checked_in_at or booking.start
    end = booking.checked_out_at or now or utcnow()
    if end < start:
        end = start
    from scheduler.money.vouchers import VoucherStatus, voucher_of  # the voucher part: what the consumed voucher paid

    voucher = voucher_of(session, booking.id, lock=False)
    voucher_fen = voucher.consumed_fen if voucher is not None and voucher.status == VoucherStatus.consumed else 0
    usage = UsageRecord(
        instrument_id=booking.instrument_id,
        booking_id=booking.id,
        enterprise_id=booking.enterprise_id,
        user_id=booking.user_id,
        source=UsageSource.check_out,
        service_mode=booking.service_mode,
        external=booking.enterprise_id is not None,
        started_at=start,
        ended_at=end,
        measure_minutes=int((end - start).total_seconds() // 60),
        samples=booking.sample_count,
        fee_fen=booking.price_fen,
        voucher_fen=min(voucher_fen, booking.price_fen),
        created_by=actor.user_id,
    )
    session.add(usage)
    session.flush()
    record(session, actor, "usage.record", "usage_record", usage.id, after=snapshot(usage))
    return usage


def rate(session: Session, actor: Actor, usage_id: str, rating: int) -> UsageRecord:
    """The user (a member of the enterprise served) rates a session 1–5."""
    usage = session.get(UsageRecord, usage_id)
    if usage is None or not (
        (actor.role == Role.enterprise_member and usage.enterprise_id == actor.enterprise_id)
        or (usage.user_id is not None and usage.user_id == actor.user_id)
    ):
        raise NotFound(f"No usage record {usage_id!r} of yours.")
    if not 1 <= rating <= 5:
        raise InvalidInput("rating is 1 to 5.", field="rating")
    before = snapshot(usage)
    usage.rating = rating
    session.add(usage)
    session.flush()
    record(session, actor, "usage.rate", "usage_record", usage.id, before=before, after=snapshot(usage))
    return usage


def visible_usage(actor: Actor):  # noqa: ANN201 - a select
    q = select(UsageRecord).join(Instrument, Instrument.id == UsageRecord.instrument_id)
    if actor.is_admin:
        return q
    if actor.role == Role.lab_manager:
        return q.where(Instrument.owner_unit_id == actor.owner_unit_id)
    if actor.role == Role.enterprise_member and actor.enterprise_id:
        return q.where(UsageRecord.enterprise_id == actor.enterprise_id)
    if actor.role == Role.operator and actor.operator_id:
        from instruments.staff import Operator

        sub = select(Operator.owner_unit_id).where(Operator.id == actor.operator_id).scalar_subquery()
        return q.where(Instrument.owner_unit_id == sub)
    raise Forbidden("Your role cannot read usage records.")


def list_usage(
    session: Session,
    actor: Actor,
    instrument_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[UsageRecord]:
    q = visible_usage(actor)
    if instrument_id:
        q = q.where(UsageRecord.instrument_id == instrument_id)
    if start:
        q = q.where(UsageRecord.started_at >= start)
    if end:
        q = q.where(UsageRecord.started_at < end)
    q = q.order_by(col(UsageRecord.started_at), col(UsageRecord.id)).offset(offset).limit(limit)
    return list(session.exec(q).all())


# --- CSV import ---------------------------------------------------------------------------------

CSV_COLUMNS = {
    "started_at": "required: ISO 8601 date-time; without an offset it is the instrument's local time",
    "ended_at": "required: ISO 8601 date-time",
    "measure_minutes": "measurement minutes (default: the whole session minus the other parts)",
    "setup_minutes": "set-up minutes (default 0)",
    "post_minutes": "necessary post-processing minutes (default 0)",
    "idle_minutes": "idle running minutes, not counted (default 0)",
    "samples": "samples processed (default 0)",
    "service_mode": "self_operated | guided | operator_run | remote (default operator_run)",
    "user_type": "internal | external (default external)",
    "user_name": "free text",
    "enterprise_credit_code": "18-character unified social credit code of a registered enterprise",
    "fee_fen": "fee in fen (integer), or",
    "fee_yuan": "fee in yuan with at most 2 decimals",
    "voucher_fen": "voucher-paid part in fen (default 0)",
    "booking_id": "the booking this session served (optional)",
    "rating": "1–5 (optional)",
    "notes": "free text",
}
REQUIRED = ("started_at", "ended_at")
MAX_CELL_CHARS = 10_000
YEARS = (1970, 2200)  # as for usage entered through the API
# csv's own cell limit (131,072) raises without saying where; the file's size limit bounds cells
# instead and ``MAX_CELL_CHARS`` reports an over-long one by row and column
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


def check_csv_size(size: int) -> None:
    """Refuse (413) a usage CSV larger than ``usage_import_max_bytes``, before reading it whole."""
    limit = get_settings().usage_import_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"The file is larger than {limit} bytes (usage_import_max_bytes); split it.",
            limit="usage_import_max_bytes",
            field="body",
        )


def decode_csv(raw: bytes) -> str:
    """A usage CSV's text: UTF-8 (with or without BOM), else GB18030 (Chinese Windows spreadsheets)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The file is neither UTF-8 nor GB18030 text.", field="body") from exc


def _check_row_count(text: str) -> None:
    """Refuse a file with more than ``usage_import_max_rows`` data rows, counting without checking."""
    limit = get_settings().usage_import_max_rows
    try:
        for n, _ in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if n > limit:  # n data rows after the header
                raise LimitExceeded(
                    f"The file has more than {limit} data rows (usage_import_max_rows); split it.",
                    limit="usage_import_max_rows",
                    field="body",
                )
    except csv.Error:
        return  # reported by row when the rows are checked


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {
            "code": "invalid_row",
            "row": self.row,
            "column": self.column,
            "field": self.column,
            "message": f"row {self.row}, {self.column}: {self.reason}",
        }


class ImportRejected(InvalidInput):
    """A CSV file with errors: nothing was imported; ``violations`` lists every bad cell."""

    title = "Usage import rejected"

    def __init__(self, errors: list[RowError], total_rows: int) -> None:
        shown = errors[:1000]
        super().__init__(
            f"{len(errors)} problem(s) in {total_rows} row(s); nothing was imported. "
            f"First: row {errors[0].row}, {errors[0].column}: {errors[0].reason}.",
            field=errors[0].column,
        )
        self.errors = errors
        self.extra["violations"] = [e.as_dict() for e in shown]
        self.extra["imported"] = 0
        self.extra["error_count"] = len(errors)


@dataclass
class ImportResult:
    batch: str
    instrument_id: str
    imported: int
    effective_minutes: int
    fee_fen: int
    digest: str
    already_imported: bool = False


def _int(value: str, row: int, column: str, errors: list[RowError], lo: int = 0, hi: int = 10**7) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        errors.append(RowError(row, column, f"{value!r} is not a whole number"))
        return 0
    if not lo <= n <= hi:
        errors.append(RowError(row, column, f"{n} is outside {lo}..{hi}"))
        return 0
    return n


def _time(value: str, row: int, column: str, errors: list[RowError], tz) -> datetime | None:  # noqa: ANN001
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        errors.append(RowError(row, column, f"{value!r} is not an ISO 8601 date-time (e.g. 2026-03-02T09:30)"))
        return None
    t = t.replace(tzinfo=tz) if t.tzinfo is None else t
    try:
        in_range = all(YEARS[0] <= d.year <= YEARS[1] for d in (t, t.astimezone(UTC)))
    except OverflowError:  # e.g. 0001-01-01 in a zone east of UTC
        in_range = False
    if not in_range:
        errors.append(RowError(row, column, f"{value!r} is outside the years {YEARS[0]}–{YEARS[1]}"))
        return None
    return t


def _yuan_to_fen(value: str, row: int, errors: list[RowError]) -> int:
    try:
        d = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite() or d.adjusted() > 18:  # sNaN, Infinity, 1E+999999999: no arithmetic on them
        errors.append(RowError(row, "fee_yuan", f"{value!r} is not an amount"))
        return 0
    fen = d * 100
    if fen != fen.to_integral_value() or d < 0 or fen > MAX_FEN:
        errors.append(RowError(row, "fee_yuan", f"{value!r} is not a non-negative amount with at most 2 decimals"))
        return 0
    return int(fen)


def parse_csv(session: Session, inst: Instrument, text: str) -> tuple[list[UsageRecord], list[RowError], int]:
    """Every row checked; returns the records, the errors and the row count."""
    tz = zone(inst.timezone)
    text = text.lstrip("\ufeff")
    _check_row_count(text)
    budget = get_settings().usage_import_time_limit
    deadline = clock.monotonic() + budget
    reader = csv.DictReader(io.StringIO(text, newline=""))
    errors: list[RowError] = []
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    unknown = [h for h in header if h not in CSV_COLUMNS]
    for h in unknown:
        errors.append(RowError(1, h, f"unknown column (known: {', '.join(CSV_COLUMNS)})"))
    for h in REQUIRED:
        if h not in header:
            errors.append(RowError(1, h, "required column is missing"))
    if "fee_fen" in header and "fee_yuan" in header:
        errors.append(RowError(1, "fee_yuan", "give fee_fen or fee_yuan, not both"))
    if errors:
        return [], errors, 0
    enterprises = {e.credit_code: e.id for e in session.exec(select(Enterprise)).all()}
    records: list[UsageRecord] = []
    booking_ids: set[str] = set()
    n = 0
    rows = enumerate(reader, start=1)
    while True:
        try:
            n, raw = next(rows, (n, None))
        except csv.Error as exc:  # e.g. a quote that never closes
            errors.append(RowError(n + 2, "*", f"unreadable CSV: {exc}"))
            break
        if raw is None:
            break
        row = n + 1  # line in the spreadsheet: the header is row 1
        if clock.monotonic() >= deadline:
            raise LimitExceeded(
                f"Stopped checking the file at row {row} after the {budget:g} s time limit "
                "(usage_import_time_limit); split it.",
                limit="usage_import_time_limit",
                field="body",
            )
        if None in raw:
            errors.append(RowError(row, "*", "more cells than columns in the header"))
            continue
        long = [k for k in header if len(raw.get(k) or "") > MAX_CELL_CHARS]
        for k in long:
            errors.append(RowError(row, k, f"longer than {MAX_CELL_CHARS} characters"))
        if long:
            continue
        v = {k: (raw.get(k) or "").strip() for k in header}
        before = len(errors)
        for h in REQUIRED:
            if not v.get(h):
                errors.append(RowError(row, h, "required value is empty"))
        start = _time(v["started_at"], row, "started_at", errors, tz) if v.get("started_at") else None
        end = _time(v["ended_at"], row, "ended_at", errors, tz) if v.get("ended_at") else None
        parts = {}
        for c in ("setup_minutes", "post_minutes", "idle_minutes", "samples"):
            parts[c] = _int(v[c], row, c, errors) if v.get(c) else 0
        span = int((end - start).total_seconds() // 60) if start and end else 0
        if start and end and end < start:
            errors.append(RowError(row, "ended_at", "ends before it starts"))
        if v.get("measure_minutes"):
            measure = _int(v["measure_minutes"], row, "measure_minutes", errors)
        else:
            measure = max(0, span - parts["setup_minutes"] - parts["post_minutes"] - parts["idle_minutes"])
        if (
            start
            and end
            and end >= start
            and measure + parts["setup_minutes"] + parts["post_minutes"] + parts["idle_minutes"] > span
        ):
            errors.append(RowError(row, "measure_minutes", f"the parts add up to more than the session's {span} min"))
        mode = v.get("service_mode") or ServiceMode.operator_run.value
        if mode not in {m.value for m in ServiceMode}:
            errors.append(
                RowError(row, "service_mode", f"{mode!r} is not one of {', '.join(m.value for m in ServiceMode)}")
            )
        utype = (v.get("user_type") or "external").lower()
        if utype not in ("internal", "external"):
            errors.append(RowError(row, "user_type", f"{utype!r} is not internal or external"))
        ent_id = None
        if v.get("enterprise_credit_code"):
            code = credit_code.normalise(v["enterprise_credit_code"])
            ent_id = enterprises.get(code)
            if ent_id is None:
                errors.append(RowError(row, "enterprise_credit_code", f"no registered enterprise with code {code}"))
        if v.get("fee_yuan"):
            fee = _yuan_to_fen(v["fee_yuan"], row, errors)
        else:
            fee = _int(v["fee_fen"], row, "fee_fen", errors, hi=MAX_FEN) if v.get("fee_fen") else 0
        voucher = _int(v["voucher_fen"], row, "voucher_fen", errors, hi=MAX_FEN) if v.get("voucher_fen") else 0
        if voucher > fee:
            errors.append(RowError(row, "voucher_fen", "exceeds the fee"))
        rating = _int(v["rating"], row, "rating", errors, lo=1, hi=5) if v.get("rating") else None
        booking_id = v.get("booking_id") or None
        if booking_id:
            b = session.get(Booking, booking_id)
            if b is None or b.instrument_id != inst.id:
                errors.append(RowError(row, "booking_id", f"no booking {booking_id!r} of this instrument"))
            elif (
                booking_id in booking_ids
                or session.exec(select(UsageRecord.id).where(UsageRecord.booking_id == booking_id)).first()
            ):
                errors.append(RowError(row, "booking_id", "this booking already has a usage record"))
            booking_ids.add(booking_id)
        if len(errors) > before or start is None or end is None:
            continue
        records.append(
            UsageRecord(
                instrument_id=inst.id,
                booking_id=booking_id,
                enterprise_id=ent_id,
                user_name=v.get("user_name", ""),
                source=UsageSource.csv_import,
                service_mode=mode,
                external=utype == "external",
                started_at=start,
                ended_at=end,
                measure_minutes=measure,
                samples=parts["samples"],
                setup_minutes=parts["setup_minutes"],
                post_minutes=parts["post_minutes"],
                idle_minutes=parts["idle_minutes"],
                fee_fen=fee,
                voucher_fen=voucher,
                rating=rating,
                notes=v.get("notes", ""),
            )
        )
    if n == 0 and not errors:
        errors.append(RowError(2, "*", "the file has no data rows"))
    return records, errors, n


def import_csv(session: Session, actor: Actor, instrument_id: str, text: str, filename: str = "") -> ImportResult:
    """Import a usage log: all rows or none. Re-importing the same file for the same instrument is a no-op."""
    inst = get_instrument(session, instrument_id)
    _require_staff(actor, inst)
    _operator_scope(session, actor, inst)
    digest = hashlib.sha256(text.encode()).hexdigest()
    batch = f"imp_{inst.id}_{digest[:16]}"
    done = session.exec(select(UsageRecord).where(UsageRecord.import_batch == batch)).all()
    if done:
        return ImportResult(
            batch,
            inst.id,
            len(done),
            sum(u.effective_minutes for u in done),
            sum(u.fee_fen for u in done),
            digest,
            True,
        )
    records, errors, total = parse_csv(session, inst, text)
    if errors:
        raise ImportRejected(errors, total)
    for u in records:
        u.import_batch = batch
        u.created_by = actor.user_id
    session.add_all(records)
    session.flush()
    result = ImportResult(
        batch, inst.id, len(records), sum(u.effective_minutes for u in records), sum(u.fee_fen for u in records), digest
    )
    record(
        session,
        actor,
        "usage.import",
        "instrument",
        inst.id,
        after={"batch": batch, "file": filename, "rows": len(records), "sha256": digest},
    )
    return result
