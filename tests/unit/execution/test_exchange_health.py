from titan_execution.core.exchange_health import ChurnCounter, clock_drifted, clock_offset_ms


def test_clock_offset_uses_the_midpoint() -> None:
    assert clock_offset_ms(local_sent_ms=1000, server_ms=1550, local_received_ms=1100) == 500
    assert clock_drifted(500, threshold_ms=1000) is False
    assert clock_drifted(-1500, threshold_ms=1000) is True


def test_churn_windows() -> None:
    churn = ChurnCounter(limit_10s=3, limit_60s=5)
    assert [churn.record("BTCUSDT", t) for t in (0, 1000, 2000)] == [False, False, False]
    assert churn.record("BTCUSDT", 3000) is True  # 4 in 10 s
    assert churn.over_limit("BTCUSDT", 20_000) is False  # the short window has passed
    assert churn.record("BTCUSDT", 21_000) is False  # 5 in 60 s
    assert churn.record("BTCUSDT", 22_000) is True  # 6 in 60 s
    assert churn.over_limit("ETHUSDT", 22_000) is False
    assert churn.over_limit("BTCUSDT", 90_000) is False


def test_symbols_over_limit_lists_only_the_churning_ones() -> None:
    churn = ChurnCounter(limit_10s=1, limit_60s=5)
    churn.record("BTCUSDT", 0)
    churn.record("BTCUSDT", 100)
    churn.record("ETHUSDT", 100)
    assert churn.symbols_over_limit(200) == {"BTCUSDT"}
    assert churn.symbols_over_limit(20_000) == set()
