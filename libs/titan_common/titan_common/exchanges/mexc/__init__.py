"""MEXC spot v3 through ccxt's async client; public data REST-polled, fills polled (no streams)."""

from titan_common.exchanges.mexc.adapter import MexcAdapter, MexcConfig, TradingNotAllowed

__all__ = ["MexcAdapter", "MexcConfig", "TradingNotAllowed"]
