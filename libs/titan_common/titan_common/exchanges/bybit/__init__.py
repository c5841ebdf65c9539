"""Bybit v5 (linear USDT perpetuals, one-way mode) through the official pybit connector."""

from titan_common.exchanges.bybit.adapter import BybitAdapter, BybitConfig

__all__ = ["BybitAdapter", "BybitConfig"]
