"""Configuration: typed environment helpers, production refuses to start without its secrets, key rotation."""
from __future__ import annotations

import flask
import pytest

from app import config
from app.config import ConfigError


def test_production_requires_secret_key_and_database_url(monkeypatch, tmp_path):
    monkeypatch.setenv("ARBOR_ENV", "production")
    monkeypatch.setenv("ARBOR_INSTANCE", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY, DATABASE_URL"):
        config.load()
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        config.load()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    cfg = config.load()
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["FORCE_HTTPS"] and cfg["PROXY_FIX"] == 1
    assert not (tmp_path / "dev-secret-key").exists(), "production must never invent a key"


def test_development_defaults_to_sqlite_and_a_kept_dev_key(monkeypatch, tmp_path):
    for name in ("ARBOR_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARBOR_INSTANCE", str(tmp_path))
    cfg = config.load()
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'arbor.db'}"
    assert cfg["REDIS_URL"] is None and not cfg["SESSION_COOKIE_SECURE"]
    assert config.load()["SECRET_KEY"] == cfg["SECRET_KEY"]


@pytest.mark.parametrize("helper,raw,expected", [
    (config.env_bool, "yes", True), (config.env_bool, "0", False), (config.env_int, "42", 42),
    (config.env_list, "a, b,,c", ["a", "b", "c"]),
])
def test_typed_helpers(monkeypatch, helper, raw, expected):
    monkeypatch.setenv("X_TEST", raw)
    args = ("X_TEST",) if helper is config.env_list else ("X_TEST", None)
    assert helper(*args) == expected


@pytest.mark.parametrize("helper,raw", [(config.env_bool, "maybe"), (config.env_int, "4x")])
def test_typed_helpers_reject_garbage(monkeypatch, helper, raw):
    monkeypatch.setenv("X_TEST", raw)
    with pytest.raises(ConfigError, match="X_TEST"):
        helper("X_TEST", None)


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("ARBOR_ENV", "staging")
    with pytest.raises(ConfigError):
        config.load()


def test_old_secret_key_still_verifies_sessions_during_rotation(engine, tmp_path):
    """A session cookie signed with the previous key is accepted once that key is listed as a fallback."""
    from app import create_app
    from tests import support

    old = create_app({**support.test_config(engine, tmp_path), "SECRET_KEY": "old-key"})
    with old.test_request_context():
        cookie = old.session_interface.get_signing_serializer(old).dumps({"lang": "en"})
    rotated = create_app({**support.test_config(engine, tmp_path), "SECRET_KEY": "new-key",
                          "SECRET_KEY_FALLBACKS": ["old-key"]})
    without = create_app({**support.test_config(engine, tmp_path), "SECRET_KEY": "new-key"})
    for application, expected in ((rotated, "en"), (without, None)):
        with application.test_request_context(headers={"Cookie": f"arbor_session={cookie}"}):
            sess = application.session_interface.open_session(application, flask.request)
            assert sess.get("lang") == expected
