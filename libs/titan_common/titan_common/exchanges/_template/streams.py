"""The <venue> WebSocket streams (private: orders, executions, positions, wallet; public:
trades, tickers, klines), bridged from the connector's threads into asyncio."""
