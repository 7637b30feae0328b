"""The throttle: exact counting under concurrency, locks that double and cap, success that resets or releases,
trusted clients not blocked by an account lock; the same behaviour on Redis."""
from __future__ import annotations

import threading
import uuid

import pytest

from tenants.throttle import MemoryStore, RedisStore, Rule, Throttle


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttle(clock):
    return Throttle(MemoryStore(clock=clock))


def fail_times(throttle, scopes, n):
    locks = []
    for _ in range(n):
        v = throttle.attempt(scopes)
        assert v.allowed
        locks += throttle.failed(v)
    return locks


def test_five_failures_lock_the_account_then_locks_double_up_to_the_cap(throttle, clock):
    scopes = [("account", "ana@x.ro")]
    assert fail_times(throttle, scopes, 4) == []
    [lock] = fail_times(throttle, scopes, 1)
    assert (lock.scope, lock.seconds) == ("account", 60)
    v = throttle.attempt(scopes)
    assert not v.allowed and 0 < v.retry_after <= 60
    seen = [60]
    for _ in range(5):
        clock.t += seen[-1] + 1  # the lock has run out
        locks = fail_times(throttle, scopes, 5)
        seen.append(locks[-1].seconds)
    assert seen == [60, 120, 240, 480, 900, 900]  # doubling, capped at 15 minutes


def test_success_resets_the_account_and_releases_the_address(throttle):
    acct, addr = [("account", "ana@x.ro")], [("address", "10.0.0.1")]
    fail_times(throttle, acct + addr, 4)
    v = throttle.attempt(acct + addr)
    throttle.succeeded(v)
    assert throttle.count("account", "ana@x.ro") == 0
    assert throttle.count("address", "10.0.0.1") == 4  # the four failures stay; the success took nothing
    # Many correct sign-ins from one school address never fill its budget.
    for _ in range(100):
        throttle.succeeded(throttle.attempt(addr))
    assert throttle.count("address", "10.0.0.1") == 4


def test_an_address_spraying_many_accounts_is_stopped(throttle):
    allowed = 0
    for i in range(100):
        v = throttle.attempt([("address", "10.9.9.9"), ("account", f"victim{i}@x.ro")])
        if v.allowed:
            allowed += 1
            throttle.failed(v)
    assert allowed == 30  # the address rule, though no single account saw more than one attempt


def test_a_trusted_client_is_not_blocked_by_the_account_lock(throttle):
    email = "ana@x.ro"
    throttle.trust_address(email, "10.0.0.7")  # Ana signed in from here before
    attacker = throttle.password_scopes(email, "203.0.113.5")
    fail_times(throttle, attacker, 5)
    assert not throttle.attempt(attacker).allowed
    assert throttle.attempt(throttle.password_scopes(email, "10.0.0.7")).allowed
    assert throttle.attempt(throttle.password_scopes(email, "198.51.100.1", device="dev-123")).allowed
    # ...and a trusted client has its own, separate limit.
    own = throttle.password_scopes(email, "198.51.100.1", device="dev-123")
    fail_times(throttle, own, 4)
    assert not throttle.attempt(own).allowed


def test_refused_attempts_give_back_what_they_took(throttle):
    fail_times(throttle, [("account", "a@x.ro")], 5)
    for _ in range(10):
        assert not throttle.attempt([("address", "10.1.1.1"), ("account", "a@x.ro")]).allowed
    assert throttle.count("address", "10.1.1.1") == 0


def test_the_window_alone_refuses_sends(throttle, clock):
    scopes = [("send", "42")]
    assert all(throttle.attempt(scopes).allowed for _ in range(5))
    assert not throttle.attempt(scopes).allowed
    clock.t += 901
    assert throttle.attempt(scopes).allowed


def _hammer(throttle, scopes, threads=40):
    """``threads`` concurrent wrong guesses; returns how many were allowed to check the password."""
    checked = []
    barrier = threading.Barrier(threads)

    def guess():
        barrier.wait()
        v = throttle.attempt(scopes)
        if v.allowed:
            checked.append(1)
            throttle.failed(v)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(checked)


def test_counting_is_exact_under_concurrent_attempts_in_memory():
    throttle = Throttle(MemoryStore())
    for round_ in range(5):
        assert _hammer(throttle, [("account", f"ana{round_}@x.ro")]) == 5
    assert _hammer(throttle, [("address", "10.2.2.2")], threads=80) == 30


@pytest.mark.redis
def test_redis_store_counts_exactly_and_locks(redis_url):
    prefix = f"arbor:test:{uuid.uuid4().hex}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    try:
        throttle = Throttle(store, {"account": Rule(limit=5, window=60, base=2, cap=4)})
        assert _hammer(throttle, [("account", "ana@x.ro")]) == 5
        assert 0 < throttle.locked_for("account", "ana@x.ro") <= 2
        assert _hammer(throttle, [("address", "10.3.3.3")], threads=60) == 30
        v = throttle.attempt([("address", "10.4.4.4")])
        throttle.succeeded(v)
        assert throttle.count("address", "10.4.4.4") == 0
        throttle.trust_address("ana@x.ro", "10.0.0.7")
        assert throttle.address_trusted("ana@x.ro", "10.0.0.7")
        assert not throttle.address_trusted("ana@x.ro", "10.0.0.8")
        # A second lock doubles (2 s → 4 s, the cap).
        store.redis.delete(*store.redis.keys(prefix + "lock:*"))
        locks = fail_times(throttle, [("account", "ana@x.ro")], 5)
        assert locks and locks[-1].seconds == 4
    finally:
        keys = store.redis.keys(prefix + "*")
        if keys:
            store.redis.delete(*keys)
