-- 055-conditional-orders: stop-limit, stop-market, take-profit(-limit) orders and OCO pairs (issue 13,
-- docs/trading.md "Conditional orders").
--
-- A conditional order is an ordinary trade.spot_order row (status 'new', holding its funds from
-- placement, so `mycrypto verify`'s "locked = open orders' holds" covers it unchanged; `type` is the
-- order it becomes: limit or market) plus one row here saying what it waits for. While `triggered_at`
-- is NULL it is NOT on the order book: the market's engine keeps it in its trigger book and a rebuild
-- loads it there. The row is written in the same transaction as the order (trade.commit_batch_conditional
-- below), and so is its triggering.
--
-- The limit leg of an OCO pair has a row too (kind 'limit', triggered from the start): it names its
-- sibling (`oco_order_id`), so a restarted engine still cancels one leg when the other fills or triggers.
CREATE TABLE trade.order_condition (
    order_id          bigint CONSTRAINT pk_order_condition PRIMARY KEY
                      CONSTRAINT fk_order_condition_order_id REFERENCES trade.spot_order (id),
    market_id         integer NOT NULL,
    kind              text NOT NULL,
    direction         text,                        -- above: fires when the price rises to stop_price
    stop_price        numeric(38, 18),
    -- a stop/take-profit market BUY executes as IOC up to this price (its hold is computed at it)
    exec_limit_price  numeric(38, 18),
    oco_order_id      bigint,                      -- the other leg of an OCO pair
    triggered_at      timestamptz,
    trigger_trade_id  bigint,                      -- the trade whose price crossed stop_price
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_order_condition_kind CHECK (kind IN ('stop_limit', 'stop_market', 'take_profit_limit',
                                                       'take_profit_market', 'limit')),
    CONSTRAINT ck_order_condition_trigger CHECK (kind = 'limit' OR (direction IN ('above', 'below')
                                                                   AND stop_price > 0)),
    CONSTRAINT ck_order_condition_limit_leg CHECK (kind <> 'limit' OR (oco_order_id IS NOT NULL
                                                                      AND triggered_at IS NOT NULL))
);
-- what a rebuild loads into the trigger book
CREATE INDEX ix_order_condition_untriggered ON trade.order_condition (market_id, order_id)
    WHERE triggered_at IS NULL;
CREATE INDEX ix_order_condition_oco ON trade.order_condition (market_id, order_id)
    WHERE oco_order_id IS NOT NULL;

-- The engine's group commit when a batch places or triggers conditional orders: trade.commit_batch
-- (unchanged, called as is) and then, only if it committed, the condition rows and the triggerings.
-- Amounts travel as integer ticks like commit_batch's. conds: [order_id, kind, direction, stop_ticks,
-- exec_limit_ticks, oco_order_id, triggered_ms, trigger_trade_id]; fired: [order_id, triggered_ms, trade_id].
CREATE FUNCTION trade.commit_batch_conditional(
    p_market_id integer, p_epoch bigint, p_update_id bigint, tick numeric, lot numeric, qunit numeric,
    bunit numeric, feeunit numeric, quote_asset text, base_asset text,
    new_orders jsonb, changed_orders jsonb, trades jsonb, candles jsonb,
    acc_ids bigint[], d_available numeric[], d_locked numeric[],
    p_kinds text[], p_ref_types text[], p_ref_ids text[], p_memos text[],
    l_postings integer[], l_accounts bigint[], l_assets text[], l_buckets text[], l_amounts numeric[],
    conds jsonb, fired jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r integer;
BEGIN
    r := trade.commit_batch(p_market_id, p_epoch, p_update_id, tick, lot, qunit, bunit, feeunit, quote_asset,
                            base_asset, new_orders, changed_orders, trades, candles, acc_ids, d_available,
                            d_locked, p_kinds, p_ref_types, p_ref_ids, p_memos, l_postings, l_accounts,
                            l_assets, l_buckets, l_amounts);
    IF r <> 1 THEN
        RETURN r;
    END IF;
    INSERT INTO trade.order_condition (order_id, market_id, kind, direction, stop_price, exec_limit_price,
        oco_order_id, triggered_at, trigger_trade_id)
    SELECT (c->>0)::bigint, p_market_id, c->>1, c->>2, (c->>3)::numeric * tick, (c->>4)::numeric * tick,
           (c->>5)::bigint, 'epoch'::timestamptz + (c->>6)::bigint * interval '1 millisecond',
           (c->>7)::bigint
      FROM jsonb_array_elements(conds) AS c;
    UPDATE trade.order_condition o
       SET triggered_at = 'epoch'::timestamptz + (f->>1)::bigint * interval '1 millisecond',
           trigger_trade_id = (f->>2)::bigint
      FROM jsonb_array_elements(fired) AS f
     WHERE o.order_id = (f->>0)::bigint AND o.triggered_at IS NULL;
    RETURN 1;
END $$;
