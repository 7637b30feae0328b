"""Internationalisation: every msgid in the code has a Romanian translation, the catalogs compile, Romanian is the
default language, and the English switch works and is remembered (session, then the signed-in user)."""
from __future__ import annotations

import io
import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from app.config import ROOT
from core.audit import AuditEntry
from core.db import session
from tenants.models import User

TRANSLATIONS = ROOT / "app" / "translations"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}  # the -k options of scripts/i18n
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")
CEDILLA = "şţŞŢ"  # Romanian uses the comma below: ș ț Ș Ț


def _catalog(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def _code_msgids() -> dict:
    """msgid → first place it is used, extracted from the code with babel.cfg, exactly as scripts/i18n does."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                             keywords=KEYWORDS):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(message.string) and all(strings) and not message.fuzzy


@pytest.fixture(scope="module")
def compiled(app):
    """Compile the catalogs if the .mo files are missing or older than the .po (scripts/setup normally has), and
    make the app read them afresh."""
    for lang in app.config["LANGUAGES"]:
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with open(mo, "wb") as f:
                write_mo(f, _catalog(lang))
    with app.app_context():
        app.extensions["babel"].instance.domain_instance.cache.clear()


def test_every_msgid_has_a_romanian_translation():
    ro = _catalog("ro")
    missing = []
    for msgid, where in sorted(_code_msgids().items(), key=lambda kv: kv[1]):
        message = ro.get(msgid)
        if message is None or not _translated(message):
            missing.append(f"  {where}: {msgid!r}")
    assert not missing, (f"{len(missing)} msgid(s) have no Romanian translation — run scripts/i18n and translate "
                         f"app/translations/ro/LC_MESSAGES/messages.po:\n" + "\n".join(missing))


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_catalogs_compile_without_errors(lang):
    catalog = _catalog(lang)
    problems = [f"{m.id!r}: {e}" for m, errors in catalog.check() for e in errors]
    for m in catalog:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            if s and set(PLACEHOLDER.findall(s)) - wanted:
                problems.append(f"{m.id!r}: placeholders {set(PLACEHOLDER.findall(s))} differ from {wanted}")
        if lang == "ro" and any(c in s for s in strings if s for c in CEDILLA):
            problems.append(f"{m.id!r}: cedilla ş/ţ instead of the comma-below ș/ț")
    assert not problems, "\n".join(problems)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    assert buf.getvalue()
    if lang == "ro":
        assert catalog.num_plurals == 3, "Romanian has three plural forms (1, 2–19, 20+ with 'de')"


def test_english_is_the_identity():
    wrong = [m.id for m in _catalog("en") if m.id and _translated(m) and m.string != m.id]
    assert wrong == []


def test_romanian_is_the_default_and_english_can_be_chosen(client, compiled):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ro">' in page and "Autentificare" in page
    r = client.post("/language", data={"lang": "en", "next": "/login"})
    assert r.status_code == 302 and r.location.endswith("/login")
    for _ in range(2):  # kept in the session
        page = client.get("/login").get_data(as_text=True)
        assert '<html lang="en">' in page and "Sign in" in page and "Autentificare" not in page
    client.post("/language", data={"lang": "ro", "next": "/login"})
    assert "Autentificare" in client.get("/login").get_data(as_text=True)


def test_language_switch_ignores_unknown_languages_and_foreign_targets(client, compiled):
    r = client.post("/language", data={"lang": "fr", "next": "https://evil.example/"})
    assert r.status_code == 302 and "evil" not in r.location
    assert '<html lang="ro">' in client.get("/login").get_data(as_text=True)
    for target in ("//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        assert "evil" not in client.post("/language", data={"lang": "en", "next": target}).location


def test_a_signed_in_users_choice_is_remembered(app, tree, make_user, login, compiled):
    user = make_user("inspector", tree.a)
    first = app.test_client()
    login(user, first)
    assert '<html lang="ro">' in first.get("/").get_data(as_text=True)
    first.post("/language", data={"lang": "en", "next": "/"})
    assert session.get(User, user.id).locale == "en"
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "user.locale")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None and entry.user_id == user.id and entry.new == {"locale": "en"}

    second = app.test_client()  # a new session on another device starts in the user's language
    login(user, second)
    home = second.get("/").get_data(as_text=True)
    assert '<html lang="en">' in home and "Where you work" in home
    second.post("/language", data={"lang": "ro", "next": "/"})
    assert session.get(User, user.id).locale == "ro"
    assert "Unde lucrați" in second.get("/").get_data(as_text=True)


def test_setup_script_compiles_the_catalogs():
    """scripts/setup is what gives a fresh clone its Romanian pages: its compile step must run and must not hide
    a failure (a swallowed usage error once left a fresh clone in English)."""
    import subprocess
    from pathlib import Path

    from app.config import ROOT
    lines = [ln.strip() for ln in (ROOT / "scripts" / "setup").read_text().splitlines() if "pybabel" in ln]
    assert lines and all("|| true" not in ln and "2>/dev/null" not in ln for ln in lines)
    mo = Path(ROOT / "app/translations/ro/LC_MESSAGES/messages.mo")
    mo.unlink(missing_ok=True)
    for ln in lines:
        subprocess.run(ln, shell=True, cwd=ROOT, check=True, env={"PATH": "/usr/bin:/bin"})
    assert mo.exists() and mo.stat().st_size > 1000
