"""The capacity plan's straight lines: a growing figure reaches its limit on the day its
trend says, a flat or shrinking one never does, one day of history has no trend."""

from __future__ import annotations

import pytest

from titan_ops.capacity import project, slope


def test_slope_is_the_least_squares_line() -> None:
    assert slope([(0, 1.0), (1, 3.0), (2, 5.0)]) == pytest.approx(2.0)
    assert slope([(0, 1.0)]) is None


def test_a_growing_figure_reaches_its_limit_when_its_trend_says() -> None:
    history = {f"2026-12-0{i + 1}": {"redis_mb": 900.0 + 20 * i, "disk_used_pct": 50.0} for i in range(3)}
    by_figure = {p.figure: p for p in project(history)}
    redis = by_figure["redis_mb"]
    assert redis.per_day == pytest.approx(20.0)
    assert redis.days_left == pytest.approx((1000 - 940) / 20)
    assert by_figure["disk_used_pct"].days_left is None  # flat: never
    assert "reached in 3 days" in redis.line()


def test_one_day_of_history_has_no_trend() -> None:
    (only,) = project({"2026-12-01": {"redis_mb": 5.0}})
    assert only.per_day is None
    assert only.days_left is None
