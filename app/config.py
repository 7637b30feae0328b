"""Configuration from environment variables through typed helpers.

``ARBOR_ENV`` is development (the default: SQLite file, in-process jobs), testing or production. Production
refuses to start without ``SECRET_KEY`` and ``DATABASE_URL``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    pass


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean, got {raw!r}")


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return list(default or [])
    return [p.strip() for p in raw.split(",") if p.strip()]


def _dev_secret(instance: Path) -> str:
    """A random development key kept in instance/ so restarts keep sessions; never used in production."""
    instance.mkdir(parents=True, exist_ok=True)
    f = instance / "dev-secret-key"
    if not f.exists():
        f.write_text(secrets.token_hex(32))
    return f.read_text().strip()


def load(overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    env = overrides.get("ENV") or env_str("ARBOR_ENV", "development")
    if env not in ("development", "testing", "production"):
        raise ConfigError(f"ARBOR_ENV must be development, testing or production, got {env!r}")
    instance = Path(env_str("ARBOR_INSTANCE", str(ROOT / "instance")))
    prod = env == "production"
    cfg: dict = {
        "ENV": env,
        "INSTANCE_DIR": str(instance),
        "SECRET_KEY": env_str("SECRET_KEY"),
        # Previous keys, still accepted to verify sessions and signed links during a rotation.
        "SECRET_KEY_FALLBACKS": env_list("SECRET_KEY_FALLBACKS"),
        "DATABASE_URL": env_str("DATABASE_URL"),
        "REDIS_URL": env_str("REDIS_URL"),
        "BABEL_DEFAULT_LOCALE": "ro",
        "BABEL_DEFAULT_TIMEZONE": env_str("ARBOR_TIMEZONE", "Europe/Bucharest"),  # dates and times on pages
        "LANGUAGES": ["ro", "en"],
        "PAGE_SIZE": env_int("ARBOR_PAGE_SIZE", 50),
        "MAX_CONTENT_LENGTH": env_int("ARBOR_MAX_UPLOAD_MB", 20) * 1024 * 1024,
        "IMPORT_MAX_ROWS": env_int("ARBOR_IMPORT_MAX_ROWS", 50000),  # data rows per network/structure file
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", prod),
        "SESSION_COOKIE_NAME": "arbor_session",
        "REMEMBER_COOKIE_DURATION": 0,
        "PERMANENT_SESSION_LIFETIME": env_int("ARBOR_SESSION_ABSOLUTE_MINUTES", 12 * 60) * 60,
        "SESSION_IDLE_MINUTES": env_int("ARBOR_SESSION_IDLE_MINUTES", 30),
        "WTF_CSRF_TIME_LIMIT": None,
        "PREFERRED_URL_SCHEME": "https" if prod else "http",
        "FORCE_HTTPS": env_bool("ARBOR_FORCE_HTTPS", prod),
        "PROXY_FIX": env_int("ARBOR_PROXY_HOPS", 1 if prod else 0),
        "ARGON2_TIME_COST": env_int("ARBOR_ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_KIB": env_int("ARBOR_ARGON2_MEMORY_KIB", 65536),
        "MAIL_OUTBOX": env_str("ARBOR_MAIL_OUTBOX", str(instance / "outbox")),
        "SMTP_URL": env_str("SMTP_URL"),
        "MAIL_FROM": env_str("MAIL_FROM", "Arbor <no-reply@arbor.local>"),
        "INVITATION_DAYS": env_int("ARBOR_INVITATION_DAYS", 7),
    }
    cfg.update(overrides)
    if prod:
        missing = [k for k in ("SECRET_KEY", "DATABASE_URL") if not cfg.get(k)]
        if missing:
            raise ConfigError(f"production needs {', '.join(missing)} in the environment")
    else:
        cfg["SECRET_KEY"] = cfg["SECRET_KEY"] or _dev_secret(instance)
        cfg["DATABASE_URL"] = cfg["DATABASE_URL"] or f"sqlite:///{instance / 'arbor.db'}"
    return cfg
