"""Request bodies read with a size cap and a time limit: refused as soon as they are known to be
too large, or when the client sends too slowly.

``Content-Length`` is trusted for an early refusal only; the stream itself is counted, so a
client that lies or streams chunked still cannot make the server hold more than the cap. A body
still incomplete after ``body_time_limit`` seconds is a 408 (a client trickling bytes would
otherwise hold the request, and a worker's attention, for as long as it likes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import Request
from starlette.datastructures import FormData

from instruments.errors import RequestTimeout
from instruments.settings import get_settings


async def read_capped(request: Request, max_bytes: int, refuse: Callable[[int], None]) -> bytes:
    """The body, or ``refuse(size)`` (which raises) once it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        refuse(int(declared))
    chunks: list[bytes] = []
    size = 0
    limit = get_settings().body_time_limit
    try:
        async with asyncio.timeout(limit):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    refuse(size)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body was not complete after the {limit:g} s time limit (body_time_limit); "
            f"{size} bytes arrived.",
            limit="body_time_limit",
        ) from None
    return b"".join(chunks)


async def capped_form(
    request: Request, max_bytes: int, refuse: Callable[[int], None], max_files: int = 4, max_fields: int = 50
) -> FormData:
    """A multipart or urlencoded form whose whole body is read with ``read_capped`` first, so an
    upload larger than ``max_bytes`` is refused before it is parsed (Starlette's own parser puts
    no limit on a file's size). The caller closes the form (``await form.close()``)."""
    raw = await read_capped(request, max_bytes, refuse)
    request._body = raw  # Starlette replays a read body to the form parser from here
    return await request.form(max_files=max_files, max_fields=max_fields)
