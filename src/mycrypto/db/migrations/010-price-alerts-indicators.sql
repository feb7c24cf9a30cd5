-- 010-price-alerts-indicators: user price alerts and technical indicators computed from candles.
-- (009 is absent in the launch checklist's migration set; the gap is kept on purpose, see docs/database.md.)

CREATE TYPE trade.alert_condition AS ENUM ('above', 'below');
CREATE TYPE trade.alert_status AS ENUM ('active', 'triggered', 'cancelled');

CREATE TABLE trade.price_alert (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_price_alert PRIMARY KEY,
    user_id       bigint NOT NULL CONSTRAINT fk_price_alert_user_id REFERENCES auth.app_user (id) ON DELETE CASCADE,
    market_id     integer NOT NULL CONSTRAINT fk_price_alert_market_id REFERENCES trade.market (id),
    condition     trade.alert_condition NOT NULL,
    price         numeric(38, 18) NOT NULL,
    status        trade.alert_status NOT NULL DEFAULT 'active',
    note          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    triggered_at  timestamptz,
    trigger_price numeric(38, 18),
    CONSTRAINT ck_price_alert_price_positive CHECK (price > 0),
    CONSTRAINT ck_price_alert_note_length CHECK (length(note) <= 200)
);
CREATE INDEX ix_price_alert_active ON trade.price_alert (market_id, condition, price) WHERE status = 'active';
CREATE INDEX ix_price_alert_user_id ON trade.price_alert (user_id, created_at DESC);

-- Simple moving average of the last `periods` closes of a market/interval, up to `at`.
CREATE FUNCTION trade.indicator_sma(p_market_id integer, p_interval text, periods integer,
                                    at timestamptz DEFAULT now())
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN count(*) = periods THEN avg(close) END
      FROM (SELECT close FROM trade.candle
             WHERE market_id = p_market_id AND interval = p_interval AND open_time <= at
             ORDER BY open_time DESC LIMIT periods) last_closes
$$;

-- Exponential moving average (alpha = 2 / (periods + 1)) seeded with the oldest close of the window
-- of 4 * periods candles.
CREATE FUNCTION trade.indicator_ema(p_market_id integer, p_interval text, periods integer,
                                    at timestamptz DEFAULT now())
RETURNS numeric LANGUAGE plpgsql STABLE AS $$
DECLARE
    alpha numeric := 2.0 / (periods + 1);
    ema numeric;
    c record;
BEGIN
    FOR c IN SELECT close FROM (SELECT open_time, close FROM trade.candle
                                 WHERE market_id = p_market_id AND interval = p_interval AND open_time <= at
                                 ORDER BY open_time DESC LIMIT periods * 4) w ORDER BY open_time LOOP
        ema := CASE WHEN ema IS NULL THEN c.close ELSE alpha * c.close + (1 - alpha) * ema END;
    END LOOP;
    RETURN ema;
END $$;

-- Relative strength index (simple-average variant) over the last `periods` close-to-close changes.
CREATE FUNCTION trade.indicator_rsi(p_market_id integer, p_interval text, periods integer DEFAULT 14,
                                    at timestamptz DEFAULT now())
RETURNS numeric LANGUAGE sql STABLE AS $$
    WITH w AS (
        SELECT close - lag(close) OVER (ORDER BY open_time) AS change
          FROM (SELECT open_time, close FROM trade.candle
                 WHERE market_id = p_market_id AND interval = p_interval AND open_time <= at
                 ORDER BY open_time DESC LIMIT periods + 1) last_candles
    ), s AS (
        SELECT sum(greatest(change, 0)) AS gain, sum(greatest(-change, 0)) AS loss, count(change) AS n FROM w
    )
    SELECT CASE WHEN n < periods THEN NULL
                WHEN loss = 0 AND gain = 0 THEN 50
                WHEN loss = 0 THEN 100
                ELSE round(100 - 100 / (1 + gain / loss), 4) END
      FROM s
$$;
