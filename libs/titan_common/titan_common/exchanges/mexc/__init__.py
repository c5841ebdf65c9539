"""MEXC spot v3 through ccxt's async client; public data REST-polled, fills polled (no streams).

The adapter (and ccxt with it) is imported on first use, not with the package: the venue
registry imports `mexc.venue` in every process, most of which never trade MEXC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from titan_common.exchanges.mexc.adapter import MexcAdapter, MexcConfig, TradingNotAllowed

__all__ = ["MexcAdapter", "MexcConfig", "TradingNotAllowed"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from titan_common.exchanges.mexc import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
