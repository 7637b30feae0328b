"""Passwords: argon2id hashing (memory-hard), the password policy, and password-reset tokens.

Policy: at least 12 characters (at most 200), not a common password or a common word dressed up with digits,
symbols or l33t spelling (``tenants/data/common-passwords.txt``, compared case-insensitively), and not built
from the user's own e-mail address or name.

A reset token is signed with its own salt and a maximum age, and carries a fingerprint of the password hash it
was issued against: setting any new password changes the hash, so a link works once and dies with every older
link. Hashing parameters are configurable so tests can run fast.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_LENGTH = 12
MAX_LENGTH = 200
COMMON_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
RESET_SALT = "arbor.password-reset"
# Reasons a password is refused; views translate them (the codes are stable, the English is for logs and CLIs).
PROBLEMS = {
    "too_short": f"the password needs at least {MIN_LENGTH} characters",
    "too_long": f"the password may have at most {MAX_LENGTH} characters",
    "common": "the password is too common or too easy to guess",
    "personal": "the password must not contain your e-mail address or your name",
}


def configure(time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        # Spend comparable time so a missing account is not told apart by timing.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


# --- policy ---

@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
                       "!": "i", "|": "l", "+": "t"})


def _fold(text: str) -> str:
    """Lower case, no diacritics (ș → s), NFKC: what people think of as 'the same letters'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return unicodedata.normalize("NFKC", "".join(c for c in decomposed if not unicodedata.combining(c))).lower()


def _is_common(folded: str) -> bool:
    common = common_passwords()
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", folded)  # strip leading/trailing digits and symbols
    candidates = {folded, folded.replace(" ", ""), core, core.translate(_LEET), folded.translate(_LEET)}
    if len(set(folded)) <= 3:  # aaaaaaaaaaaa, abababababab
        return True
    return any(c and c in common for c in candidates)


def _is_personal(folded: str, email: str | None, name: str | None) -> bool:
    squeezed = re.sub(r"[\W_]+", "", folded)
    parts: list[str] = []
    if email:
        local = _fold(email).split("@")[0]
        parts.append(_fold(email))
        parts += [local] + re.split(r"[\W_]+", local)
    if name:
        parts.append(re.sub(r"[\W_]+", "", _fold(name)))
        parts += re.split(r"[\W_]+", _fold(name))
    core = re.sub(r"[\W\d_]+", "", folded)
    for part in {p for p in parts if len(p) >= 4}:
        squeezed_part = re.sub(r"[\W_]+", "", part)
        if part in folded or (len(squeezed_part) >= 4 and squeezed_part in squeezed) or core == squeezed_part:
            return True
    return False


def password_problems(password: str, *, email: str | None = None, name: str | None = None) -> list[str]:
    """Codes from :data:`PROBLEMS` the password breaks; empty when it is acceptable."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return ["too_short"]
    if len(password) > MAX_LENGTH:
        return ["too_long"]
    folded = _fold(password)
    problems = []
    if _is_common(folded):
        problems.append("common")
    if _is_personal(folded, email, name):
        problems.append("personal")
    return problems


def check_password_policy(password: str, *, email: str | None = None, name: str | None = None) -> list[str]:
    """The policy as English messages (empty list: acceptable). Used by invitations and the CLI."""
    return [PROBLEMS[p] for p in password_problems(password, email=email, name=name)]


# --- reset tokens ---

def hash_fingerprint(password_hash: str | None) -> str:
    """A short digest of the stored hash: changes whenever the password does."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def make_reset_token(user, secret_key: str) -> str:
    from itsdangerous import URLSafeTimedSerializer
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT).dumps(
        {"u": user.id, "h": hash_fingerprint(user.password_hash)})


def read_reset_token(token: str, secret_keys: list[str], max_age: int) -> tuple[int, str] | None:
    """(user id, password fingerprint) from a genuine, unexpired token; None otherwise. The caller compares the
    fingerprint with the user's current hash (see :func:`reset_token_matches`)."""
    from itsdangerous import BadSignature, URLSafeTimedSerializer
    try:
        data = URLSafeTimedSerializer(secret_keys, salt=RESET_SALT).loads(token, max_age=max_age)
        return int(data["u"]), str(data["h"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def reset_token_matches(user, fingerprint: str) -> bool:
    return user is not None and user.active and hmac.compare_digest(hash_fingerprint(user.password_hash), fingerprint)
