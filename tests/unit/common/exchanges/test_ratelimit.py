from titan_common.exchanges.ratelimit import TokenBucket


def test_bucket_allows_a_burst_then_paces() -> None:
    bucket = TokenBucket(rate_per_s=10, capacity=10)
    assert [bucket.take(1000) for _ in range(10)] == [0] * 10
    assert bucket.take(1000) == 101  # the 11th waits for a tenth of a second
    assert bucket.take(1101) == 0


def test_the_venues_count_wins_when_stricter() -> None:
    bucket = TokenBucket(rate_per_s=10, capacity=10)
    bucket.observe(remaining=0, reset_ms=1500, now_ms=1000)
    assert bucket.wait_ms(1000) == 500
    assert bucket.wait_ms(1500) == 0


def test_a_refusal_blocks_until_the_reset() -> None:
    bucket = TokenBucket(rate_per_s=50, capacity=50)
    bucket.refused(reset_ms=2000, now_ms=1200)
    assert bucket.take(1999) == 1
    assert bucket.take(2000) == 0
    past_reset = TokenBucket(rate_per_s=50, capacity=50)
    past_reset.refused(reset_ms=100, now_ms=1200)  # a reset already past: wait a second instead
    assert past_reset.wait_ms(1200) == 1000
