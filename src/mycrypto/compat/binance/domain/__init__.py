"""Pure rules of the Binance adapter: error codes, parameter parsing, symbols, intervals, weights."""
