"""Compatibility adapters: other exchanges' wire APIs served over MyCrypto's own services.

Each adapter (today only `binance`) translates requests and responses; it never owns money, orders
or a second matching engine. See docs/binance-api.md.
"""
