"""WebSocket streams (issue 13, docs/streams.md): live market data and private account events.

- `model`: the event model - what a market's owner publishes after a committed batch (book diff,
  trades, private order/fill/balance hints), as plain JSON-ready dicts, and the stream names.
- `hub`: one per process - subscriptions, delivery to connections, the pull loop for tickers, candles
  and partial books, fan-out across replicas (`fanout`: Redis pub/sub, or in-process).
- `connection`: one client - a bounded send queue (a slow consumer is closed, never buffered without
  bound), limits, authentication state.
- `native` and `binance`: two thin codecs over the same events (the native `op` protocol and Binance's
  spot stream protocol, so ccxt.pro's binance class works unmodified).
- `private`: the users' events - order updates, fills, balances, and the outbox's `stream.user.*` rows.
- `api`: the WebSocket routes (/ws, /ws/<stream>, /stream, /ws-api/v3) and /api/v3/userDataStream.
"""
