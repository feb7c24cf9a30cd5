"""Price and indicator alerts: REST under /api/v1/trade/alerts, evaluated by the market's owner as trades commit."""
