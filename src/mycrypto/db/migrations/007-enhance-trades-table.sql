-- 007-enhance-trades-table: what the trade history and market-data queries need.

-- Binance's isBuyerMaker, derived so it can never disagree with taker_side.
ALTER TABLE trade.trade
    ADD COLUMN is_buyer_maker boolean GENERATED ALWAYS AS (taker_side = 'sell') STORED;

-- "my trades" for either side, newest first
CREATE INDEX ix_trade_buyer_user_id_created_at ON trade.trade (buyer_user_id, created_at DESC);
CREATE INDEX ix_trade_seller_user_id_created_at ON trade.trade (seller_user_id, created_at DESC);
-- recent trades / candles rebuild per market by time
CREATE INDEX ix_trade_market_id_created_at ON trade.trade (market_id, created_at DESC);
-- fills of one order
CREATE INDEX ix_trade_taker_order_id ON trade.trade (taker_order_id);
CREATE INDEX ix_trade_maker_order_id ON trade.trade (maker_order_id);
