"""Throttling of sign-in attempts, second-factor codes and code sends, per account and per client address.

The policy (numbers in :data:`RULES`):

- Every attempt **reserves a slot before** the password or code is checked, atomically. A scope with ``limit``
  reserved-or-failed slots in its window refuses the next attempt, so twenty concurrent guesses against a limit
  of five check exactly five passwords.
- A failure that reaches the limit **locks** the scope for ``base`` seconds, doubling with each further lock in
  the next 24 hours and capped at ``cap`` (1, 2, 4, 8, 15 minutes). A lock refuses attempts without looking at
  the password, so a lock cannot be used to probe it.
- Success **resets** an account scope (count, lock and doubling) and **releases** its slot in an address scope,
  so a school behind one NAT address is not throttled by its own correct sign-ins.
- ``account``: password failures for one e-mail address (existing or not, so locks tell nothing about which
  accounts exist) from untrusted clients. A client is **trusted** for an account when it carries that account's
  device cookie or signs in from an address that completed a sign-in of the account in the last 30 days; a
  trusted client is never blocked by the account lock but has its own ``account_client`` scope. So an attacker
  can lock a victim out only from new devices and addresses, and for 15 minutes at most per lock.
- ``address``: password and code failures from one client address, whatever the account: stops a spray of one
  password over many accounts.
- ``second_factor``: wrong codes for one account (the password was right); the code itself also dies after five
  wrong guesses. ``reauth``: wrong passwords of a signed-in user confirming it is them (re-authentication,
  password change). ``send``: e-mail/SMS codes sent for one account, ``reset_request`` / ``reset_address``:
  password-reset mails per account and per address (cost and spam control; the window alone refuses).

Two stores implement the same atomic operations: :class:`MemoryStore` (a lock around a dict; the embedded default,
one process) and :class:`RedisStore` (Lua scripts, so each operation is one atomic step on the server; every web
process shares it). No Flask imports here.
"""
from __future__ import annotations

import hashlib
import threading
import time
import weakref
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    limit: int  # slots (attempts in flight + failures) allowed in the window
    window: int  # seconds a count lives after its first attempt
    base: int = 60  # first lock, seconds; 0 = no lock, the window alone refuses
    cap: int = 900  # longest lock, seconds
    on_success: str = "reset"  # "reset" the scope, "release" one slot, or "keep"
    strikes_ttl: int = 24 * 3600  # how long earlier locks keep doubling the next one


RULES: dict[str, Rule] = {
    "account": Rule(limit=5, window=900),
    "account_client": Rule(limit=5, window=900),
    "address": Rule(limit=30, window=900, on_success="release"),
    "second_factor": Rule(limit=5, window=900),
    "reauth": Rule(limit=5, window=900),
    "send": Rule(limit=5, window=900, base=0, on_success="keep"),
    "reset_request": Rule(limit=3, window=3600, base=0, on_success="keep"),
    "reset_address": Rule(limit=20, window=3600, base=0, on_success="keep"),
    # Form-teacher class links (app/web/link_fill): requests per link and per address; the window alone refuses.
    "link": Rule(limit=300, window=600, base=0, on_success="keep"),
    "link_address": Rule(limit=600, window=600, base=0, on_success="keep"),
}
TRUST_TTL = 30 * 24 * 3600


def _key(scope: str, ident: str) -> str:
    return f"{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


@dataclass
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds, when refused
    held: list[tuple[str, str]] = field(default_factory=list)  # (scope, key) slots reserved by this attempt


@dataclass(frozen=True)
class Lockout:
    scope: str
    seconds: int


class MemoryStore:
    """In-process store: one lock makes every operation atomic. ``clock`` is injectable for tests."""

    _instances: weakref.WeakSet = weakref.WeakSet()

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)
        MemoryStore._instances.add(self)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    @classmethod
    def clear_all(cls) -> None:
        """Forget every count in every memory store of this process (tests)."""
        for store in list(cls._instances):
            store.clear()

    def _get(self, key: str) -> tuple[int, float] | None:
        item = self._data.get(key)
        if item is not None and item[1] <= self._clock():
            del self._data[key]
            return None
        return item

    def _ttl(self, key: str) -> int:
        item = self._get(key)
        return max(1, int(item[1] - self._clock() + 0.999)) if item else 0

    def acquire(self, key: str, limit: int, window: int) -> tuple[bool, int]:
        with self._lock:
            if self._get("lock:" + key):
                return False, self._ttl("lock:" + key)
            item = self._get("n:" + key)
            n = (item[0] if item else 0) + 1
            if n > limit:
                return False, self._ttl("n:" + key)
            self._data["n:" + key] = (n, item[1] if item else self._clock() + window)
            return True, 0

    def fail(self, key: str, limit: int, base: int, cap: int, strikes_ttl: int) -> int:
        with self._lock:
            if base <= 0 or self._get("lock:" + key):
                return 0
            item = self._get("n:" + key)
            if not item or item[0] < limit:
                return 0
            strikes_item = self._get("s:" + key)
            strikes = (strikes_item[0] if strikes_item else 0) + 1
            seconds = min(base * 2 ** (strikes - 1), cap)
            now = self._clock()
            self._data["s:" + key] = (strikes, now + strikes_ttl)
            self._data["lock:" + key] = (1, now + seconds)
            del self._data["n:" + key]
            return seconds

    def release(self, key: str) -> None:
        with self._lock:
            item = self._get("n:" + key)
            if item and item[0] > 0:
                self._data["n:" + key] = (item[0] - 1, item[1])

    def reset(self, key: str) -> None:
        with self._lock:
            for prefix in ("n:", "s:", "lock:"):
                self._data.pop(prefix + key, None)

    def count(self, key: str) -> int:
        with self._lock:
            item = self._get("n:" + key)
            return item[0] if item else 0

    def locked_for(self, key: str) -> int:
        with self._lock:
            return self._ttl("lock:" + key)

    def remember(self, key: str, ttl: int) -> None:
        with self._lock:
            self._data["m:" + key] = (1, self._clock() + ttl)

    def known(self, key: str) -> bool:
        with self._lock:
            return self._get("m:" + key) is not None


_ACQUIRE = """
local lock = redis.call('PTTL', KEYS[2])
if lock > 0 then return {0, math.ceil(lock / 1000)} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, math.max(1, redis.call('TTL', KEYS[1]))}
end
return {1, 0}
"""
_FAIL = """
if tonumber(ARGV[2]) <= 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local strikes = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
local seconds = math.min(tonumber(ARGV[2]) * 2 ^ (strikes - 1), tonumber(ARGV[3]))
redis.call('SET', KEYS[2], 1, 'EX', seconds)
redis.call('DEL', KEYS[1])
return seconds
"""
_RELEASE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisStore:
    """Shared store on Redis; each operation is one Lua script, so counting is exact across processes."""

    def __init__(self, client, prefix: str = "arbor:throttle:"):
        self.redis = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._fail = client.register_script(_FAIL)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, **kwargs) -> RedisStore:
        import redis
        return cls(redis.Redis.from_url(url), **kwargs)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def acquire(self, key: str, limit: int, window: int) -> tuple[bool, int]:
        ok, retry = self._acquire(keys=[self._k("n", key), self._k("lock", key)], args=[limit, window])
        return bool(ok), int(retry)

    def fail(self, key: str, limit: int, base: int, cap: int, strikes_ttl: int) -> int:
        return int(self._fail(keys=[self._k("n", key), self._k("lock", key), self._k("s", key)],
                              args=[limit, base, cap, strikes_ttl]))

    def release(self, key: str) -> None:
        self._release(keys=[self._k("n", key)])

    def reset(self, key: str) -> None:
        self.redis.delete(self._k("n", key), self._k("s", key), self._k("lock", key))

    def count(self, key: str) -> int:
        return int(self.redis.get(self._k("n", key)) or 0)

    def locked_for(self, key: str) -> int:
        return max(0, int(self.redis.ttl(self._k("lock", key))))

    def remember(self, key: str, ttl: int) -> None:
        self.redis.set(self._k("m", key), 1, ex=ttl)

    def known(self, key: str) -> bool:
        return bool(self.redis.exists(self._k("m", key)))


class Throttle:
    """The policy on top of a store. Identifiers (e-mail, address, device id) are hashed before they are keys."""

    def __init__(self, store, rules: dict[str, Rule] | None = None):
        self.store = store
        self.rules = {**RULES, **(rules or {})}

    def attempt(self, scopes: list[tuple[str, str]]) -> Verdict:
        """Reserve one slot in every scope ``(rule name, identifier)``, or none (then the verdict refuses)."""
        held: list[tuple[str, str]] = []
        for scope, ident in scopes:
            rule, key = self.rules[scope], _key(scope, ident)
            ok, retry = self.store.acquire(key, rule.limit, rule.window)
            if not ok:
                for _scope, k in held:  # give back what this refused attempt took
                    self.store.release(k)
                return Verdict(False, retry)
            held.append((scope, key))
        return Verdict(True, 0, held)

    def failed(self, verdict: Verdict) -> list[Lockout]:
        """The attempt failed: scopes that reached their limit lock now; returns the locks set."""
        locks = []
        for scope, key in verdict.held:
            r = self.rules[scope]
            seconds = self.store.fail(key, r.limit, r.base, r.cap, r.strikes_ttl)
            if seconds:
                locks.append(Lockout(scope, seconds))
        return locks

    def succeeded(self, verdict: Verdict) -> None:
        for scope, key in verdict.held:
            action = self.rules[scope].on_success
            if action == "reset":
                self.store.reset(key)
            elif action == "release":
                self.store.release(key)

    def reset(self, scope: str, ident: str) -> None:
        self.store.reset(_key(scope, ident))

    def locked_for(self, scope: str, ident: str) -> int:
        return self.store.locked_for(_key(scope, ident))

    def count(self, scope: str, ident: str) -> int:
        return self.store.count(_key(scope, ident))

    # --- trusted clients: addresses that completed a sign-in of an account ---

    def trust_address(self, account: str, address: str) -> None:
        self.store.remember(_key("trusted", f"{account}|{address}"), TRUST_TTL)

    def address_trusted(self, account: str, address: str) -> bool:
        return self.store.known(_key("trusted", f"{account}|{address}"))

    def password_scopes(self, account: str, address: str, device: str | None = None) -> list[tuple[str, str]]:
        """Scopes for a password attempt on ``account`` (the normalised e-mail) from ``address``; ``device`` is
        the id of a valid device cookie of this account, if the client sent one."""
        if device:
            client = [("account_client", f"{account}|device|{device}")]
        elif self.address_trusted(account, address):
            client = [("account_client", f"{account}|address|{address}")]
        else:
            client = [("account", account)]
        return [("address", address), *client]

    def code_scopes(self, user_id: int, address: str) -> list[tuple[str, str]]:
        return [("address", address), ("second_factor", str(user_id))]

    def send_scopes(self, user_id: int) -> list[tuple[str, str]]:
        return [("send", str(user_id))]


def store_from_url(redis_url: str | None):
    """Redis when configured (production: every web process shares the counts), else in-process memory."""
    return RedisStore.from_url(redis_url) if redis_url else MemoryStore()
