"""The <venue> streams (private: orders, executions, positions, wallet; public: trades,
tickers, klines) as asyncio iterators of the shared PrivateEvent/PublicEvent: a WebSocket
connector bridged from its threads (bybit/), or, where Titan opens no socket, REST polled at
least once a second (mexc/: say so in the registry's `private_stream` and in /health)."""
