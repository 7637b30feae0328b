"""Helpers shared by tests: configuration, migrations, factories and sign-in."""
from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace

from sqlalchemy import create_engine, text

PASSWORD = "correct horse battery staple"
# The authenticator secret every staff user made by make_user has (base32, 160 bits).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_config(engine, instance) -> dict:
    return {"ENV": "testing", "ENGINE": engine, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
            "INSTANCE_DIR": str(instance), "MAIL_OUTBOX": str(instance / "outbox"), "REDIS_URL": None,
            "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8, "FORCE_HTTPS": False, "PROXY_FIX": 0,
            "DATABASE_URL": str(engine.url.render_as_string(hide_password=False))}


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from app.config import ROOT
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "head")


def fresh_pg_database(base_url: str, name: str) -> str:
    """Drop and create database ``name`` (suffixed with this process id, so parallel runs never collide) on the
    server of ``base_url``; return its URL. :func:`drop_pg_database` removes it."""
    from sqlalchemy.engine import make_url
    name = f"{name}_{os.getpid()}"
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(db_url: str) -> None:
    from sqlalchemy.engine import make_url
    url = make_url(db_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def make_user(role, node, email, name="Test User", totp: bool | None = None):
    """A user with one membership. Staff roles get a TOTP factor with :data:`TOTP_SECRET` unless ``totp=False``
    (then the user must enrol at the next sign-in); ``totp=True`` gives one to a pupil or parent too."""
    from tenants import factors, operations
    from tenants.policy import STAFF_ROLES
    user = operations.create_user(email=email, name=name, password=PASSWORD)
    if role:
        operations.add_membership(user, node, role)
    if totp or (totp is None and role in STAFF_ROLES):
        factors.add_confirmed_totp(user, TOTP_SECRET)
    return user


def totp_code(secret: str = TOTP_SECRET, user=None) -> str:
    """A code the user's TOTP factor accepts now: the current step's, or the next one's when the current step was
    used already (two sign-ins within 30 s). Past that the test resets the factor's replay mark: replay refusal
    is tested on its own, other tests just need to sign in."""
    import time

    import pyotp

    from tenants import factors
    totp = pyotp.TOTP(secret)
    step = int(time.time() // factors.STEP)
    f = factors.factor(user, "totp") if user is not None else None
    last = f.last_step if f is not None else None
    if last is not None and last >= step + factors.DRIFT:
        f.last_step = None
        from core.db import session
        session.flush()
        last = None
    use = step if last is None or last < step else last + 1
    return totp.generate_otp(use)


def login(client, user, password: str = PASSWORD):
    """Sign in through the real forms; completes the second step with the user's TOTP factor when they have one.
    Returns the last response (a redirect)."""
    r = client.post("/login", data={"email": user.email, "password": password})
    assert r.status_code == 302, f"login failed for {user.email}: {r.status_code}"
    if r.location.endswith("/login/verify"):
        from tenants import factors
        f = factors.factor(user, "totp")
        assert f is not None, f"{user.email} has a second factor but no TOTP one: sign in by hand"
        r = client.post("/login/verify", data={"method": "totp", "code": totp_code(f.secret, user)})
        assert r.status_code == 302, f"second step failed for {user.email}: {r.status_code}"
    return r


def build_tree():
    """ministry → counties A, B → 2 schools each → 2 units each → 2 classes each, one building per unit."""
    from tenants import operations
    year = operations.create_school_year("2025-2026", dt.date(2025, 9, 8), dt.date(2026, 6, 19), current=True)
    ministry = operations.create_node(level="ministry", code="MEC", name="Ministerul Educației")
    t = SimpleNamespace(year=year, ministry=ministry, counties={}, schools={}, units={}, classes={}, buildings={})
    for ci, ccode in enumerate(("A", "B"), start=1):
        county = operations.create_node(level="inspectorate", code=f"C{ccode}", name=f"Inspectorat {ccode}",
                                        parent=ministry)
        t.counties[ccode] = county
        for si in (1, 2):
            school = operations.create_node(level="school", code=f"{ci}{si}00000001", name=f"Școala {ccode}{si}",
                                            parent=county, locality=f"Oraș {ccode}", environment="urban")
            t.schools[f"{ccode}{si}"] = school
            for ui in (1, 2):
                unit = operations.create_node(level="unit", code=f"{ci}{si}{ui}0000002",
                                              name=f"Unitatea {ccode}{si}.{ui}", parent=school,
                                              locality=f"Sat {ccode}{si}{ui}", environment="rural")
                key = f"{ccode}{si}.{ui}"
                t.units[key] = unit
                t.buildings[key] = operations.create_building(unit, "Corp A")
                for k, grade in enumerate((1, 5)):
                    t.classes[f"{key}.{k}"] = operations.create_class(unit, year, name=f"{grade}A",
                                                                      grade_level=grade, pupils=20 + k)
    t.a, t.b = t.counties["A"], t.counties["B"]
    return t
