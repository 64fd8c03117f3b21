"""Browser tests: a real uvicorn server on 127.0.0.1 (a free port, its own SQLite database with a
few users) driven by pytest-playwright through Debian's chromium (``/usr/bin/chromium``;
Playwright's own browser download is not used). Every test carries the marker ``browser`` and
runs in one xdist group (one chromium at a time on a 2-core runner). Every page load is watched:
a request to anything but this server fails the test. Screenshots go to ``screenshots/``
(git-ignored). Without chromium the tests are skipped, unless LABSHARE_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "browser-test-password"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = not Path(CHROMIUM).exists()
    for item in items:
        if here in Path(str(item.fspath)).parents:  # each module also sets pytestmark (xdist reads it earlier)
            item.add_marker(pytest.mark.browser)
            if missing and os.environ.get("LABSHARE_REQUIRE_BROWSER") != "1":
                item.add_marker(pytest.mark.skip(reason="needs chromium: apt-get install -y chromium"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox", "--disable-gpu"]}


@dataclass
class Server:
    url: str
    db_url: str
    users: dict[str, str]  # key → e-mail; every password is PASSWORD

    def new_user(self, key: str) -> str:
        """A fresh enterprise member of the demo enterprise (for tests that change a password)."""
        from sqlmodel import Session, select

        from fixtures import factories
        from instruments.actor import Role
        from instruments.db import get_engine
        from scheduler.booking.enterprises import Enterprise

        email = f"{key}@browser.example.cn"
        with Session(get_engine(self.db_url)) as s:
            ent = s.exec(select(Enterprise)).first()
            factories.user(s, Role.enterprise_member, f"{key} 用户", email, password=PASSWORD, enterprise_id=ent.id)
            s.commit()
        return email


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn
    from sqlmodel import Session

    from booking_api.app import create_app
    from booking_api.migrate import upgrade
    from fixtures import factories
    from instruments.actor import Role
    from instruments.db import get_engine

    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'web.db'}"
    upgrade(db_url)
    users = {}
    with Session(get_engine(db_url)) as s:
        ent = factories.enterprise(s, "天津云析科技有限公司", 1)
        unit = factories.unit(s, "南开大学分析测试中心")
        for key, role, name, scope in (
            ("admin", Role.programme_admin, "平台管理员", {}),
            ("member", Role.enterprise_member, "王芳", {"enterprise_id": ent.id}),
            ("manager", Role.lab_manager, "李强", {"owner_unit_id": unit.id}),
        ):
            users[key] = f"{key}@browser.example.cn"
            factories.user(s, role, name, users[key], password=PASSWORD, **scope)
        s.commit()
    port = _free_port()
    config = uvicorn.Config(
        create_app(db_url, run_jobs=False, rate_limits=None), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", db_url, users)
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_context_args(browser_context_args: dict, server: Server) -> dict:
    return {**browser_context_args, "base_url": server.url, "locale": "zh-CN", "viewport": {"width": 1200, "height": 800}}


@pytest.fixture
def outside_requests(page, server: Server) -> Iterator[list[str]]:
    """Every request the page makes to anything but the test server (should stay empty)."""
    own = urlsplit(server.url).netloc
    seen: list[str] = []

    def watch(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != own:
            seen.append(request.url)

    page.on("request", watch)
    yield seen


@pytest.fixture(autouse=True)
def _no_outside_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    if "page" not in request.fixturenames:
        yield
        return
    seen = request.getfixturevalue("outside_requests")
    yield
    assert seen == [], f"the page requested URLs outside the server: {seen}"


def shot(page, name: str, full_page: bool = True) -> Path:
    """A screenshot of the page (the whole page unless ``full_page`` is False: a very long page such
    as /redoc takes tens of seconds to capture whole on a busy machine)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.locator("main button[type=submit]").click()
