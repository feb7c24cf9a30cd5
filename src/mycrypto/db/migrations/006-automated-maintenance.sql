-- 006-automated-maintenance: housekeeping run by `mycrypto maintenance` (cron / Kubernetes CronJob).
-- Nothing here touches the ledger, orders or trades: those are kept forever.

CREATE TABLE ops.maintenance_run (
    id             bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_maintenance_run PRIMARY KEY,
    task           text NOT NULL,
    rows_affected  bigint NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Email tokens and refresh tokens that expired (or were used/revoked) more than `keep` ago.
CREATE FUNCTION ops.purge_expired_tokens(keep interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n1 bigint;
    n2 bigint;
BEGIN
    DELETE FROM auth.email_token
     WHERE expires_at < now() - keep OR (used_at IS NOT NULL AND used_at < now() - keep);
    GET DIAGNOSTICS n1 = ROW_COUNT;
    -- parent_id links are ON DELETE SET NULL, so pruning old links of a family is safe.
    DELETE FROM auth.refresh_token
     WHERE expires_at < now() - keep OR (revoked_at IS NOT NULL AND revoked_at < now() - keep);
    GET DIAGNOSTICS n2 = ROW_COUNT;
    RETURN n1 + n2;
END $$;

-- Outbox rows already relayed more than `keep` ago.
CREATE FUNCTION ops.prune_outbox(keep interval DEFAULT '3 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM ops.outbox WHERE sent_at IS NOT NULL AND sent_at < now() - keep;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Refresh planner statistics of the tables that change fastest.
CREATE FUNCTION ops.analyze_hot_tables() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    ANALYZE trade.spot_order;
    ANALYZE trade.trade;
    ANALYZE trade.candle;
    ANALYZE wallet.account;
    ANALYZE wallet.posting;
    ANALYZE wallet.posting_leg;
    ANALYZE ops.outbox;
    RETURN 7;
END $$;

-- All of the above, each logged in ops.maintenance_run.
CREATE FUNCTION ops.run_maintenance(token_keep interval DEFAULT '7 days', outbox_keep interval DEFAULT '3 days')
RETURNS TABLE (task text, rows_affected bigint) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    n bigint;
BEGIN
    t0 := clock_timestamp();
    n := ops.purge_expired_tokens(token_keep);
    INSERT INTO ops.maintenance_run (task, rows_affected, started_at) VALUES ('purge_expired_tokens', n, t0);
    task := 'purge_expired_tokens'; rows_affected := n; RETURN NEXT;

    t0 := clock_timestamp();
    n := ops.prune_outbox(outbox_keep);
    INSERT INTO ops.maintenance_run (task, rows_affected, started_at) VALUES ('prune_outbox', n, t0);
    task := 'prune_outbox'; rows_affected := n; RETURN NEXT;

    t0 := clock_timestamp();
    n := ops.analyze_hot_tables();
    INSERT INTO ops.maintenance_run (task, rows_affected, started_at) VALUES ('analyze_hot_tables', n, t0);
    task := 'analyze_hot_tables'; rows_affected := n; RETURN NEXT;
END $$;
