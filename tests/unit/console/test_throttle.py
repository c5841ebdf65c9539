"""Failed-login throttling (pure, time passed in)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from titan_console.core.throttle import LoginThrottle


def test_locks_after_max_failures_and_doubles() -> None:
    throttle = LoginThrottle(max_failures=3, window_ms=60_000, lock_ms=1_000, max_lock_ms=8_000)
    for t in (0, 10, 20):
        assert throttle.retry_after_ms("u", t) == 0
        throttle.failure("u", t)
    assert throttle.retry_after_ms("u", 20) == 1_000
    assert throttle.retry_after_ms("u", 1_020) == 0
    throttle.failure("u", 1_020)
    assert throttle.retry_after_ms("u", 1_020) == 2_000
    for t in range(3_100, 3_500, 100):
        throttle.failure("u", t)
    assert throttle.retry_after_ms("u", 3_400) == 8_000  # capped


def test_success_clears_and_keys_are_independent() -> None:
    throttle = LoginThrottle(max_failures=2, lock_ms=1_000)
    throttle.failure("a", 0)
    throttle.failure("a", 1)
    assert throttle.retry_after_ms("a", 2) > 0
    assert throttle.retry_after_ms("b", 2) == 0
    throttle.success("a")
    assert throttle.retry_after_ms("a", 2) == 0


def test_failures_expire_after_the_window() -> None:
    throttle = LoginThrottle(max_failures=2, window_ms=1_000, lock_ms=100)
    throttle.failure("u", 0)
    throttle.failure("u", 2_000)  # the first one is out of the window: count restarts
    assert throttle.retry_after_ms("u", 2_000) == 0
    throttle.prune(10_000_000)
    assert throttle.retry_after_ms("u", 10_000_000) == 0


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30))
def test_never_locked_below_the_limit(times: list[int]) -> None:
    throttle = LoginThrottle(max_failures=len(times) + 1, window_ms=1_000_000)
    for t in sorted(times):
        throttle.failure("k", t)
    assert throttle.retry_after_ms("k", max(times)) == 0
