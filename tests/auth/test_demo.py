"""Demo data: staff accounts have the deterministic TOTP factor; the dev-only demo-code command."""
from __future__ import annotations

import pyotp

from tenants import demo, factors
from tenants.models import User
from tenants.policy import STAFF_ROLES


def test_demo_staff_have_the_known_totp_factor(db):
    demo.seed()
    from core.db import session
    from sqlalchemy import select
    for email, _name, role, _where in demo.ACCOUNTS:
        user = session.execute(select(User).where(User.email == email)).scalar()
        f = factors.factor(user, "totp")
        if role in STAFF_ROLES:
            assert f is not None and f.secret == demo.demo_totp_secret(email)
        else:
            assert f is None
    text = demo.accounts_text()
    assert demo.demo_totp_secret("director@demo.arbor.ro") in text and "flask demo-code EMAIL" in text


def test_demo_code_command(app, monkeypatch):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-code", "director@demo.arbor.ro"])
    assert result.exit_code == 0
    code = result.output.strip().splitlines()[0]
    assert pyotp.TOTP(demo.demo_totp_secret("director@demo.arbor.ro")).verify(code, valid_window=1)
    assert runner.invoke(args=["demo-code", "someone@else.ro"]).exit_code != 0
    monkeypatch.setitem(app.config, "ENV", "production")
    result = runner.invoke(args=["demo-code", "director@demo.arbor.ro"])
    assert result.exit_code != 0 and "refused in production" in result.output
