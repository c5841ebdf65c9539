"""A process that serves one venue labels every Titan sample with it (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, Counter

from titan_common import metrics

SOLD = Counter("titan_test_venue_label_orders_total", "test", ["result"])


@pytest.fixture
def restore_exposition() -> Iterator[None]:
    yield
    metrics._exposed = REGISTRY  # the default, for the tests after


def test_every_titan_sample_carries_the_processs_venue(restore_exposition: None) -> None:
    SOLD.labels("FILLED").inc()
    before = metrics.render_latest()[0].decode()
    assert 'titan_test_venue_label_orders_total{result="FILLED"} 1.0' in before
    metrics.label_every_sample(venue="mexc")
    after = metrics.render_latest()[0].decode()
    assert 'titan_test_venue_label_orders_total{result="FILLED",venue="mexc"} 1.0' in after
    # the runtime's own collectors (not Titan's) keep their labels
    python_info = [line for line in after.splitlines() if line.startswith("python_info{")]
    assert python_info
    assert "venue" not in python_info[0]
