"""Request bodies read with a size cap: refused as soon as they are known to be too large.

``Content-Length`` is trusted for an early refusal only; the stream itself is counted, so a
client that lies or streams chunked still cannot make the server hold more than the cap.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request


async def read_capped(request: Request, max_bytes: int, refuse: Callable[[int], None]) -> bytes:
    """The body, or ``refuse(size)`` (which raises) once it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        refuse(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            refuse(size)
        chunks.append(chunk)
    return b"".join(chunks)
