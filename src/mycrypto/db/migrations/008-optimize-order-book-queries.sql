-- 008-optimize-order-book-queries: rebuilding a book and listing open orders touch only open rows,
-- so partial indexes keep them small however long the order history grows.

CREATE INDEX ix_spot_order_open_market_id_id ON trade.spot_order (market_id, id)
    WHERE status IN ('new', 'partially_filled');
CREATE INDEX ix_spot_order_open_user_id ON trade.spot_order (user_id, market_id)
    WHERE status IN ('new', 'partially_filled');
CREATE INDEX ix_spot_order_user_id_market_id_created_at ON trade.spot_order (user_id, market_id, created_at DESC, id DESC);
