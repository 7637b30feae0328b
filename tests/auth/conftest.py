"""Fixtures for the sign-in and security tests: outboxes for mail and SMS, and staff users without a factor."""
from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from core import mail
from tenants.throttle import MemoryStore


@pytest.fixture(autouse=True)
def _fresh_throttle(app, monkeypatch):
    """Counts start at zero in every test (``app`` also sets the fast test parameters of argon2); pages are in
    English here, so the tests can read the messages."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    MemoryStore.clear_all()
    yield
    MemoryStore.clear_all()


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """Where e-mail lands in this test; ``outbox.mails()`` parses them, ``outbox.code()`` finds the last code."""
    folder = tmp_path / "outbox"
    monkeypatch.setattr(mail.settings, "outbox", str(folder))
    monkeypatch.setattr(mail.settings, "smtp_url", None)

    class Box:
        path = folder

        def mails(self):
            files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns) if folder.exists() else []
            return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]

        def last_body(self) -> str:
            return self.mails()[-1].get_body(("plain",)).get_content()

        def code(self) -> str:
            return re.search(r"\b(\d{6})\b", self.last_body()).group(1)

    return Box()


@pytest.fixture
def sms_box(app, tmp_path, monkeypatch):
    """The development SMS gateway writes into this folder; ``sms_box.code()`` reads the last code."""
    folder = tmp_path / "sms"
    monkeypatch.setattr(app.extensions["arbor_sms"], "folder", folder)

    class Box:
        path = folder

        def messages(self):
            files = sorted(folder.glob("*.txt"), key=lambda f: f.stat().st_mtime_ns) if folder.exists() else []
            return [f.read_text() for f in files]

        def code(self) -> str:
            return re.search(r"\b(\d{6})\b", self.messages()[-1]).group(1)

    return Box()


@pytest.fixture
def make_user(db):
    """The suite's make_user, plus ``totp=False`` (a staff user who still has to enrol) or ``totp=True``."""
    from tests import support
    from tests.conftest import _seq

    def make(role=None, node=None, email=None, name="Test User", totp=None):
        return support.make_user(role, node, email or f"user{next(_seq)}@test.arbor.ro", name, totp=totp)
    return make


def form_fields(html: str, form_id: str) -> dict:
    """The fields a browser would submit from form ``#form_id`` (inputs with a name; the first of a name wins, as
    ``request.form.get`` reads it)."""
    from html.parser import HTMLParser

    class P(HTMLParser):
        inside, fields = False, {}

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.inside = a.get("id") == form_id
            elif self.inside and tag == "input" and a.get("name"):
                self.fields.setdefault(a["name"], a.get("value") or "")
            elif self.inside and tag == "select" and a.get("name"):
                self.fields.setdefault(a["name"], "")

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False

    p = P()
    p.fields = {}
    p.feed(html)
    assert p.fields, f"no form #{form_id}"
    return p.fields


@pytest.fixture
def make_app(engine, db, tmp_path):
    """make_app(overrides) → another app on the test database (production settings, an SMS provider, …). create_app
    configures process-wide things (the session binding, argon2, mail, the job backend): they are put back."""
    import dataclasses

    from app import create_app
    from core import db as core_db
    from exports import jobs
    from tenants import passwords

    session_kw = dict(core_db.session_factory.kw)
    hasher = passwords._hasher
    mail_settings = dataclasses.replace(mail.settings)
    backend = (jobs.backend.redis, getattr(jobs.backend, "app_context", None))

    def restore():
        core_db.session.remove()
        core_db.session_factory.configure(bind=session_kw["bind"],
                                          join_transaction_mode=session_kw.get("join_transaction_mode"))
        passwords._hasher = hasher
        mail.settings.__dict__.update(dataclasses.asdict(mail_settings))
        jobs.backend.redis, jobs.backend.app_context = backend

    def make(overrides: dict):
        cfg = {"ENGINE": engine, "DATABASE_URL": str(engine.url), "INSTANCE_DIR": str(tmp_path), "REDIS_URL": None,
               "MAIL_OUTBOX": str(tmp_path / "outbox"), "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8}
        app = create_app({**cfg, **overrides})
        restore()
        return app

    yield make
    restore()
