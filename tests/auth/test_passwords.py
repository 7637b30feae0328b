"""The password policy and reset tokens (the web flows are in test_reset.py and test_profile.py)."""
from __future__ import annotations

import pytest

from tenants import passwords
from tenants.passwords import password_problems


@pytest.mark.parametrize("pw", ["correct horse battery staple", "Munte-Ceai-Lampa-42", "ziua în care am plecat",
                                "Arbor-demo-2026"])
def test_good_passwords_pass(pw):
    assert password_problems(pw, email="ana.pop@scoala.ro", name="Ana Pop") == []


@pytest.mark.parametrize("pw,problem", [
    ("short", "too_short"),
    ("elevii12345", "too_short"),  # 11 characters
    ("x" * 201, "too_long"),
    ("qwertyuiop123", "common"),
    ("QWERTYUIOP123", "common"),  # case-insensitive
    ("Password2024!", "common"),  # a common word dressed up with digits and symbols
    ("P@ssw0rd12345", "common"),  # ... and l33t spelling
    ("parolaparola", "common"),
    ("!!Bucuresti2025", "common"),
    ("aaaaaaaaaaaaaa", "common"),
    ("1234567890123", "common"),
    ("ana.pop@scoala.ro", "personal"),
    ("anapop-la-scoala", "personal"),
    ("Ana Pop 2025!!!", "personal"),
])
def test_bad_passwords_are_refused(pw, problem):
    assert problem in password_problems(pw, email="ana.pop@scoala.ro", name="Ana Pop")


def test_the_list_is_shipped_compact_and_lower_case():
    common = passwords.common_passwords()
    assert 1000 <= len(common) <= 50000
    assert all(w == w.lower() for w in common)
    assert {"password", "parola", "qwertyuiop"} <= common


def test_messages_for_other_modules():
    assert passwords.check_password_policy("short") == [passwords.PROBLEMS["too_short"]]
    assert passwords.check_password_policy("correct horse battery staple") == []


class U:
    id, active = 7, True

    def __init__(self, password_hash):
        self.password_hash = password_hash


def test_reset_token_is_bound_to_the_password_hash_and_expires():
    user = U(passwords.hash_password("correct horse battery staple"))
    token = passwords.make_reset_token(user, "k1")
    uid, fp = passwords.read_reset_token(token, ["k1"], max_age=3600)
    assert uid == 7 and passwords.reset_token_matches(user, fp)
    user.password_hash = passwords.hash_password("another good passphrase")
    assert not passwords.reset_token_matches(user, fp)  # used: the hash moved on
    assert passwords.read_reset_token(token, ["other-key"], max_age=3600) is None
    assert passwords.read_reset_token(token + "x", ["k1"], max_age=3600) is None
    assert passwords.read_reset_token(token, ["k2", "k1"], max_age=3600) is not None  # key rotation
    assert passwords.read_reset_token(token, ["k1"], max_age=-1) is None  # expired
    # Signed with another purpose's salt, it is not a reset token.
    from itsdangerous import URLSafeTimedSerializer
    other = URLSafeTimedSerializer("k1", salt="arbor.invitation").dumps({"u": 7, "h": fp})
    assert passwords.read_reset_token(other, ["k1"], max_age=3600) is None
