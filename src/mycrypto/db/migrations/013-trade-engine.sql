-- 013-trade-engine: what the trade engine's group commit, market ownership and restarts need
-- (docs/trading.md, docs/adr/0004-trade-group-commit.md).

-- Fees round up cumulatively per order: after each fill the order's total fee is ceil(exact total),
-- so the exact (unrounded) running total must survive a restart. Quote asset units with up to 6 more
-- decimals (the fee rates' precision): NUMERIC(38,18) holds it exactly.
ALTER TABLE trade.spot_order ADD COLUMN fee_exact numeric(38, 18) NOT NULL DEFAULT 0;
ALTER TABLE trade.spot_order ADD CONSTRAINT ck_spot_order_fee_exact
    CHECK (fee_exact >= 0 AND fee_total >= fee_exact);

-- One row per market that an engine has ever owned. The owner holds pg_advisory_lock(7415, market_id)
-- on a dedicated connection (liveness); `epoch` is the fencing token: every group-commit batch updates
-- this row WHERE epoch = <the epoch it acquired>, so a replica that lost ownership without noticing
-- can never commit again once a successor bumped the epoch. `book_update_id` is the order book's
-- update id (monotonic across restarts and takeovers); `owner_url` is where other replicas forward
-- order commands; `heartbeat_at` tells them whether that owner is alive.
CREATE TABLE trade.market_engine (
    market_id       integer CONSTRAINT pk_market_engine PRIMARY KEY
                    CONSTRAINT fk_market_engine_market_id REFERENCES trade.market (id),
    epoch           bigint NOT NULL DEFAULT 1,
    owner_instance  text NOT NULL,
    owner_url       text NOT NULL,
    book_update_id  bigint NOT NULL DEFAULT 0,
    acquired_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_market_engine_counters CHECK (epoch > 0 AND book_update_id >= 0)
);

