"""Second factors at the domain level: TOTP replay and drift, e-mail/SMS codes, recovery codes, who must have one."""
from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest
from sqlalchemy import update

from core.db import session
from core.errors import Conflict
from tenants import factors
from tenants.factor_models import AuthCode
from tests.support import TOTP_SECRET


@pytest.fixture
def teacher(tree, make_user):
    return make_user("teacher", tree.schools["A1"])


@pytest.fixture
def parent(tree, make_user):
    return make_user("parent", tree.schools["A1"])


def test_staff_must_have_a_factor_pupils_and_parents_may(tree, make_user, teacher, parent):
    assert factors.requires_second_factor(teacher)
    assert not factors.requires_second_factor(parent)
    assert factors.has_factor(teacher) and not factors.has_factor(parent)
    stats = make_user("statistics", tree.a)
    assert factors.requires_second_factor(stats)


def test_totp_code_accepted_once_and_never_an_older_one(teacher):
    f = factors.factor(teacher, "totp")
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    step = int(now // 30)
    assert factors.verify_totp(f, totp.generate_otp(step), now)
    assert not factors.verify_totp(f, totp.generate_otp(step), now)  # replay
    assert not factors.verify_totp(f, totp.generate_otp(step - 1), now)  # an earlier step after a later one
    assert factors.verify_totp(f, totp.generate_otp(step + 1), now)  # one step of drift ahead
    assert not factors.verify_totp(f, totp.generate_otp(step + 3), now)  # too far
    assert not factors.verify_totp(f, "12345", now) and not factors.verify_totp(f, "abcdef", now)


def test_totp_drift_is_one_step_either_way(teacher):
    f = factors.factor(teacher, "totp")
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    step = int(now // 30)
    assert not factors.verify_totp(f, totp.generate_otp(step - 2), now)
    assert factors.verify_totp(f, totp.generate_otp(step - 1), now)


def test_concurrent_uses_of_one_totp_code_win_once(teacher, db):
    f = factors.factor(teacher, "totp")
    code = pyotp.TOTP(TOTP_SECRET).now()
    # The conditional UPDATE is what makes it single-use; run it twice "at once" through two SAVEPOINTs.
    results = [factors.verify_totp(f, code), factors.verify_totp(f, code)]
    assert results.count(True) == 1


def test_email_code_single_use_bound_to_the_attempt_and_expiring(parent):
    code = factors.issue_code(parent, "email", "login", "attempt-A", parent.email)
    assert len(code) == 6 and code.isdigit()
    assert factors.check_code(parent, "login", "attempt-B", code) is None  # another attempt: refused
    assert factors.check_code(parent, "reauth", "attempt-A", code) is None  # another purpose: refused
    assert factors.check_code(parent, "login", "attempt-A", code) is not None
    assert factors.check_code(parent, "login", "attempt-A", code) is None  # reused: refused
    code2 = factors.issue_code(parent, "email", "login", "attempt-A", parent.email)
    session.execute(update(AuthCode).where(AuthCode.used_at.is_(None))
                    .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert factors.check_code(parent, "login", "attempt-A", code2) is None  # expired


def test_codes_are_hashed_at_rest_and_a_new_code_kills_the_old(parent):
    old = factors.issue_code(parent, "sms", "login", "att", "+40722123456")
    new = factors.issue_code(parent, "sms", "login", "att", "+40722123456")
    rows = session.query(AuthCode).filter_by(user_id=parent.id).all()
    assert all(old not in r.code_hash and new not in r.code_hash and r.code_hash.startswith("$argon2id$")
               for r in rows)
    if old != new:
        assert factors.check_code(parent, "login", "att", old) is None
    assert factors.check_code(parent, "login", "att", new) is not None


def test_a_code_dies_after_five_wrong_guesses(parent):
    code = factors.issue_code(parent, "email", "login", "att", parent.email)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    for _ in range(5):
        assert factors.check_code(parent, "login", "att", wrong) is None
    assert factors.check_code(parent, "login", "att", code) is None


def test_recovery_codes_work_once(teacher):
    codes = factors.generate_recovery_codes(teacher)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert factors.recovery_codes_left(teacher) == 10
    assert factors.verify(teacher, "recovery", codes[3].upper().replace("-", " "))  # forgiving about format
    assert not factors.verify(teacher, "recovery", codes[3])
    assert factors.recovery_codes_left(teacher) == 9
    again = factors.generate_recovery_codes(teacher)  # new codes: the old ones die
    assert not factors.verify(teacher, "recovery", codes[0])
    assert factors.verify(teacher, "recovery", again[0])


def test_staff_keep_a_factor_parents_may_turn_it_off(teacher, parent):
    with pytest.raises(Conflict):
        factors.remove(teacher, "totp")
    with pytest.raises(Conflict):
        factors.disable_all(teacher)
    factors.enrol(teacher, "email", destination=teacher.email)
    v = teacher.session_version
    factors.remove(teacher, "totp")  # another factor remains
    assert teacher.session_version == v + 1  # every other session ends
    factors.enrol(parent, "totp", secret=factors.new_totp_secret())
    factors.generate_recovery_codes(parent)
    factors.disable_all(parent)
    assert not factors.has_factor(parent) and factors.recovery_codes_left(parent) == 0


def test_qr_code_is_an_svg_data_uri(teacher):
    uri = factors.provisioning_uri(teacher, TOTP_SECRET)
    assert uri.startswith("otpauth://totp/Arbor:") and "issuer=Arbor" in uri
    assert factors.qr_data_uri(uri).startswith("data:image/svg+xml")
