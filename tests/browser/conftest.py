"""Browser tests: a live Arbor on a demo-seeded SQLite file, driven by Playwright through Debian's Chromium.

``live_server`` (session) migrates and seeds its own database and serves it on 127.0.0.1 with real CSRF;
``browser`` (session) is one Chromium for the whole run; ``page`` is a fresh 360×740 context per test
(``desktop_page``: 1280×800; ``new_page(viewport)`` for tests that need two people at once). Chromium reaches
127.0.0.1 only, so nothing here depends on the network. On failure each open page is saved as a screenshot
into ``test-artifacts/``. Without Chromium the tests skip, except under CI=true, where that is an error.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from core import db as core_db
from tests import support
from tests.conftest import _require

CHROMIUM = os.environ.get("ARBOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
MOBILE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # Everything under tests/browser is a browser test, whether or not its module remembered the marker.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- the live server ------------------------------------------------------------------------------------------

def _process_state() -> dict:
    """What ``create_app`` sets process-wide: the session's engine, the job backend (with the app context that
    in-process jobs run in), the mail settings, the password hasher. The live app's state is swapped in for each
    browser test only, so the other tests keep their own app's outbox, jobs and database."""
    from core import mail
    from exports import jobs
    from tenants import passwords
    return {"engine": core_db._engine, "session": dict(core_db.session_factory.kw), "jobs": dict(vars(jobs.backend)),
            "mail": dict(vars(mail.settings)), "hasher": getattr(passwords, "_hasher", None)}


def _restore_state(state: dict) -> None:
    from core import mail
    from exports import jobs
    from tenants import passwords
    core_db.session.remove()
    core_db._engine = state["engine"]
    core_db.session_factory.kw.clear()
    core_db.session_factory.kw.update(state["session"])
    vars(jobs.backend).clear()
    vars(jobs.backend).update(state["jobs"])
    vars(mail.settings).update(state["mail"])
    if state["hasher"] is not None:
        passwords._hasher = state["hasher"]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The served app with its own engine on a fresh, migrated, demo-seeded SQLite file."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from app import create_app
    from tenants import demo

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # errors are still logged
            pass

    tmp = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{tmp / 'arbor-live.db'}"
    support.migrate(url)
    engine = core_db.make_engine(url)
    cfg = support.test_config(engine, tmp / "instance")
    cfg.update({"WTF_CSRF_ENABLED": True, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8,
                "SECRET_KEY": "browser-test-secret"})
    outside = _process_state()
    application = create_app(cfg)  # binds the global session to ``engine``, points jobs and mail at this app
    live = _process_state()
    try:
        with application.app_context():
            keys = demo.seed()
            core_db.session.commit()
            seeded = {k: n.id for k, n in keys.items()}
    finally:
        _restore_state(outside)

    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", app=application, engine=engine,
                              keys=seeded, state=live)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """Base URL (no trailing slash) of the live demo. Tests using it skip the per-test rollback (tests/conftest)."""
    return live_app.url


@pytest.fixture(autouse=True)
def _live_state(browser, live_app, live_server):
    """The live app's process-wide state for the length of one browser test, then back to what it was.
    (Depending on ``live_server`` also tells tests/conftest's ``db`` fixture to leave the session alone; on
    ``browser``, that without Chromium the test skips before a server is built.)"""
    outside = _process_state()
    _restore_state(live_app.state)
    yield
    _restore_state(outside)


@pytest.fixture(scope="session")
def demo_nodes(live_app):
    """Every demo node as code → SimpleNamespace(id, code, name, level, parent_id, county_id, url)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from tenants.models import Node
    with Session(live_app.engine) as s:
        rows = s.execute(select(Node.id, Node.code, Node.name, Node.level, Node.parent_id, Node.county_id)).all()
    return {r.code: SimpleNamespace(id=r.id, code=r.code, name=r.name, level=r.level, parent_id=r.parent_id,
                                    county_id=r.county_id, url=f"{live_app.url}/nodes/{r.id}") for r in rows}


@pytest.fixture(scope="session")
def demo_keys(live_app, demo_nodes):
    """The demo's notable nodes by tenants.demo.seed's keys: "ministry", "CJ", "IS", "B", "school", "unit"."""
    by_id = {n.id: n for n in demo_nodes.values()}
    return {key: by_id[node_id] for key, node_id in live_app.keys.items()}


# --- the browser ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _require("Chromium", f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require("Playwright", "the playwright package is not installed (requirements-dev.txt)")
    from playwright.sync_api import expect
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        # Everything but 127.0.0.1 goes to a proxy that is not there: nothing here can reach the network.
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                               proxy={"server": "http://127.0.0.1:9", "bypass": "127.0.0.1,localhost"})
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_page(browser, live_server, request):
    """new_page(viewport=MOBILE, locale="ro-RO") → a Page in its own context (own cookies); closed after the
    test, with a screenshot in test-artifacts/ when the test failed."""
    contexts = []

    def make(viewport: dict | None = None, locale: str = "ro-RO"):
        ctx = browser.new_context(viewport=viewport or MOBILE, locale=locale, base_url=live_server,
                                  service_workers="block")
        ctx.set_default_timeout(20_000)  # generous: the suite shares two cores with everything else
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    failed = any(getattr(request.node, f"rep_{w}", None) is not None and getattr(request.node, f"rep_{w}").failed
                 for w in ("setup", "call"))
    for i, ctx in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            for j, p in enumerate(ctx.pages):
                try:
                    p.screenshot(path=str(ARTIFACTS / f"{stem}-{i}{j}.png"), full_page=True)
                except Exception:  # a crashed page must not hide the real failure
                    pass
        ctx.close()


@pytest.fixture
def page(new_page):
    """A phone-sized page (360×740)."""
    return new_page(MOBILE)


@pytest.fixture
def desktop_page(new_page):
    """A desktop-sized page (1280×800)."""
    return new_page(DESKTOP)
