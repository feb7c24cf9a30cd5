-- 004-performance-monitoring: query statistics and a place to keep periodic snapshots.
--
-- pg_stat_statements needs `shared_preload_libraries = 'pg_stat_statements'` in postgresql.conf and
-- a role allowed to create the extension. Where either is missing (the embedded development server,
-- managed databases without it) the extension is simply not created and the reporting functions in
-- 005 say so instead of failing.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    END IF;
EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
    RAISE NOTICE 'pg_stat_statements not created: %', SQLERRM;
END $$;

-- Is query-level statistics collection actually on (extension installed AND library preloaded)?
CREATE FUNCTION ops.query_stats_status() RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') THEN
        RETURN 'unavailable: the pg_stat_statements extension is not installed in this database';
    END IF;
    IF position('pg_stat_statements' IN current_setting('shared_preload_libraries')) = 0 THEN
        RETURN 'unavailable: add pg_stat_statements to shared_preload_libraries and restart PostgreSQL';
    END IF;
    RETURN 'ok';
END $$;

-- Periodic snapshots (written by `mycrypto db report --save`) to compare over time.
CREATE TABLE ops.db_metric_snapshot (
    id           bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_db_metric_snapshot PRIMARY KEY,
    captured_at  timestamptz NOT NULL DEFAULT now(),
    metric       text NOT NULL,
    subject      text NOT NULL DEFAULT '',
    value        numeric NOT NULL
);
CREATE INDEX ix_db_metric_snapshot_metric_captured_at ON ops.db_metric_snapshot (metric, captured_at DESC);
