"""A payment batch's payment file as a download, one for the API (``routers/redemption.py``) and
the programme office's pages (``web/office_redemption.py``): the rows a role may see (a lab
manager: their unit's orders), made by ``scheduler/money/batch_export``."""

from __future__ import annotations

from fastapi.responses import Response
from sqlmodel import Session

from instruments.actor import Actor
from instruments.settings import get_settings
from scheduler.money import batch_export, redemption_lists
from scheduler.money.vouchers import get_programme

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def batch_file(session: Session, actor: Actor, batch_id: str, fmt: str) -> Response:
    """The batch's file in ``fmt`` (``csv`` or ``xlsx``), named for the batch."""
    batch, items = redemption_lists.get_batch(session, actor, batch_id)
    programme = get_programme(session, batch.programme_id).name
    facts = redemption_lists.item_facts(session, items)
    zone = get_settings().default_timezone
    make = batch_export.to_xlsx if fmt == "xlsx" else batch_export.to_csv
    return Response(
        make(batch, programme, items, facts, zone),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{batch.id}.{fmt}"'},
    )
