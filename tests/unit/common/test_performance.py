from decimal import Decimal as D

from titan_common.performance import max_drawdown, sharpe_per_trade, summarise_trades
from titan_ops.cli.runbook import histogram_quantile


def test_trade_summary_by_hand() -> None:
    pnls = [D(10), D(-5), D(20), D(-5)]
    summary = summarise_trades(pnls, [D(1)] * 4)
    assert (summary.trades, summary.wins, summary.losses) == (4, 2, 2)
    assert summary.win_rate == D("0.5")
    assert summary.net_pnl == D(20)
    assert summary.fees == D(4)
    assert summary.profit_factor == D(3)  # 30 won / 10 lost
    # mean 5, sample variance ((25 + 100 + 225 + 100) / 3) = 150
    assert summary.sharpe_per_trade is not None
    assert abs(summary.sharpe_per_trade - D(5) / D(150).sqrt()) < D("1e-20")
    assert (summary.best, summary.worst) == (D(20), D(-5))


def test_no_trades_and_flat_pnl_have_no_ratios() -> None:
    empty = summarise_trades([])
    assert (empty.win_rate, empty.profit_factor, empty.sharpe_per_trade) == (None, None, None)
    assert sharpe_per_trade([D(1), D(1)]) is None


def test_max_drawdown_is_from_the_running_peak() -> None:
    assert max_drawdown([D(100), D(120), D(90), D(130), D(117)]) == D("0.25")
    assert max_drawdown([]) == 0


def test_histogram_quantile_interpolates_within_a_bucket() -> None:
    buckets = [(10.0, 50.0), (100.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(buckets, 0.5) == 10.0
    assert histogram_quantile(buckets, 0.99) == 10.0 + 90.0 * (49.0 / 50.0)
    assert histogram_quantile([(10.0, 0.0)], 0.99) is None
