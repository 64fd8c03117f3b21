"""The Jinja2 environments (one per language, so gettext is bound once and rendering is
thread-safe) and ``render``: a template with the page's language, user and CSRF token."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .i18n import local_span, local_time, translations, yuan

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["yuan"] = yuan
    env.filters["local_time"] = local_time
    env.globals["local_span"] = local_span
    from .consoles import SECTIONS  # the staff consoles' nav (consoles imports this module)

    env.globals["console_sections"] = SECTIONS
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/<name>`` in the request's language (set by the web middleware)."""
    state = request.state
    lang = getattr(state, "lang", "zh-CN")
    html = environment(lang).get_template(name).render(
        request=request,
        lang=lang,
        user=getattr(state, "web_user", None),
        csrf=getattr(state, "csrf", ""),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Language"] = lang
    return response
