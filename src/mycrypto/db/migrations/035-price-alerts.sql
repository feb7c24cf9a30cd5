-- 035-price-alerts: price and indicator alerts (issue 13), replacing migration 010's unused seed.
--
-- 010 created trade.price_alert (above/below a price only) and SQL functions indicator_sma/ema/rsi that
-- no code used. They go:
-- * the alerts need more than a price level (% change over a window, RSI, price vs SMA/EMA, MACD/signal
--   crosses, repeating with a cooldown) and a history, so the table is replaced (it never held a row
--   written by the application);
-- * the indicators are computed in Python (mycrypto.marketdata.indicators) over the same trade.candle
--   rows: one implementation serves GET /api/v1/trade/indicators and the alert evaluator (which works on
--   in-memory candles as trades arrive, without a query per trade), and it covers what the SQL did not
--   (MACD, Bollinger, VWAP, any interval). The SQL versions also differed from the usual definitions:
--   indicator_ema seeded with the oldest close of a 4 * period window, indicator_rsi used simple averages
--   instead of Wilder's smoothing - two answers for one name is worse than none.

DROP FUNCTION trade.indicator_sma(integer, text, integer, timestamptz);
DROP FUNCTION trade.indicator_ema(integer, text, integer, timestamptz);
DROP FUNCTION trade.indicator_rsi(integer, text, integer, timestamptz);
DROP TABLE trade.price_alert;
DROP TYPE trade.alert_condition;
DROP TYPE trade.alert_status;

-- One alert of a user on a market. `condition` + `direction` + `level` + `params` describe what is
-- watched (docs/alerts.md); the evaluator of the market's owner replica fires it.
CREATE TABLE trade.price_alert (
    id              bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_price_alert PRIMARY KEY,
    user_id         bigint NOT NULL CONSTRAINT fk_price_alert_user_id REFERENCES auth.app_user (id) ON DELETE CASCADE,
    market_id       integer NOT NULL CONSTRAINT fk_price_alert_market_id REFERENCES trade.market (id),
    condition       text NOT NULL,
    direction       text NOT NULL,
    level           numeric(38, 18) NOT NULL,   -- price, percent (of a change up or down), RSI level; 0 for crosses
    params          jsonb NOT NULL DEFAULT '{}',
    repeating       boolean NOT NULL DEFAULT false,
    cooldown_s      integer NOT NULL DEFAULT 0,
    notify_email    boolean NOT NULL DEFAULT true,
    note            text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'active',
    -- the market's last trade id when the alert was created: it is evaluated against every later trade
    since_trade_id  bigint NOT NULL DEFAULT 0,
    -- when the market's evaluator took it over (after evaluating it against the trades it had already
    -- evaluated since since_trade_id); a new owner backfills alerts not adopted yet the same way
    adopted_at      timestamptz,
    fire_count      integer NOT NULL DEFAULT 0,
    -- the series position of the last firing (a trade id, or a candle's open time in ms): a firing
    -- is written only for a greater one, so a replayed crossing can never fire twice
    last_fired_seq  bigint,
    last_fired_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CONSTRAINT ck_price_alert_condition CHECK (condition IN ('price', 'change', 'rsi', 'sma_cross', 'ema_cross',
                                                             'macd_cross')),
    CONSTRAINT ck_price_alert_direction CHECK (direction IN ('above', 'below')),
    CONSTRAINT ck_price_alert_status CHECK (status IN ('active', 'triggered', 'deleted')),
    CONSTRAINT ck_price_alert_cooldown CHECK (cooldown_s BETWEEN 0 AND 604800),
    CONSTRAINT ck_price_alert_level CHECK (level >= 0 AND (condition NOT IN ('price', 'change') OR level > 0)),
    CONSTRAINT ck_price_alert_note_length CHECK (length(note) <= 200),
    CONSTRAINT ck_price_alert_deleted CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);
CREATE INDEX ix_price_alert_market_active ON trade.price_alert (market_id) WHERE status = 'active';
CREATE INDEX ix_price_alert_user_id ON trade.price_alert (user_id, id DESC) WHERE status <> 'deleted';

-- Every firing, written in the same transaction as the alert's update, its email and its stream event.
CREATE TABLE trade.price_alert_event (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_price_alert_event PRIMARY KEY,
    alert_id      bigint NOT NULL CONSTRAINT fk_price_alert_event_alert_id REFERENCES trade.price_alert (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL,
    market_id     integer NOT NULL,
    seq           bigint NOT NULL,            -- trade id, or candle open time (ms) for indicator alerts
    trade_id      bigint,                     -- the trade that crossed (or the last one of the candle)
    price         numeric(38, 18) NOT NULL,   -- that trade's price (or the candle's close)
    value         numeric(38, 18),            -- the watched value: change %, RSI, close - MA, MACD - signal
    event_at      timestamptz NOT NULL,       -- the trade's time (or the candle's close time)
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_price_alert_event_alert_id_seq UNIQUE (alert_id, seq)
);
CREATE INDEX ix_price_alert_event_user_id ON trade.price_alert_event (user_id, id DESC);

-- Per market: the last trade id the alert evaluator has finished with. A new owner (restart,
-- takeover) catches up from the trades after it; firings are idempotent, so a cursor that lags
-- only costs a longer catch-up.
CREATE TABLE trade.alert_cursor (
    market_id      integer CONSTRAINT pk_alert_cursor PRIMARY KEY
                   CONSTRAINT fk_alert_cursor_market_id REFERENCES trade.market (id),
    last_trade_id  bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
