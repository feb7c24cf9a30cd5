"""Market data: order book depth, recent trades, 24h tickers and candles, served from memory."""
