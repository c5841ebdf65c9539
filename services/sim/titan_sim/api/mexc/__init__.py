"""The MEXC spot v3 face (REST only): market data, the spot account, orders."""
