"""The Binance-compatible spot REST API at /api/v3 (docs/binance-api.md).

An adapter over `trading.service.TradeService`, the API-key authentication of `auth.apikeys`, the
wallet's balances and the shared rate limiter, so that ccxt, freqtrade and Binance bots work against
MyCrypto unmodified. Layout: `domain/` (pure: codes, parameters, symbols, intervals, weights),
`schemas.py` (Binance JSON shapes), `errors.py` (AppError -> {"code", "msg"}), `service.py` (use
cases; every read goes through `TradeService`, the adapter has no SQL of its own), `api.py` (the
router, mounted next to the trade router by `apps.py`).
"""
