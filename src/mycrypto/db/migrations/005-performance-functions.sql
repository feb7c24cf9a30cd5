-- 005-performance-functions: reports used by `mycrypto db report` and the go/no-go checks.

-- Slowest statements by mean time. Returns no rows (not an error) when statistics are unavailable;
-- ops.query_stats_status() says why.
CREATE FUNCTION ops.slow_queries(min_mean_ms double precision DEFAULT 10, max_rows integer DEFAULT 20)
RETURNS TABLE (query text, calls bigint, mean_ms double precision, total_ms double precision, rows bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF ops.query_stats_status() <> 'ok' THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT left(regexp_replace(s.query, ''\s+'', '' '', ''g''), 200), s.calls,
                s.mean_exec_time, s.total_exec_time, s.rows
           FROM pg_stat_statements s
          WHERE s.mean_exec_time >= $1 AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY s.mean_exec_time DESC LIMIT $2'
        USING min_mean_ms, max_rows;
END $$;

CREATE FUNCTION ops.table_sizes()
RETURNS TABLE (schema_name text, table_name text, total_bytes bigint, table_bytes bigint,
               index_bytes bigint, row_estimate bigint)
LANGUAGE sql STABLE AS $$
    SELECT n.nspname::text, c.relname::text, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
           pg_indexes_size(c.oid), greatest(c.reltuples, 0)::bigint
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('auth', 'wallet', 'trade', 'ops', 'public')
     ORDER BY pg_total_relation_size(c.oid) DESC
$$;

-- Bloat estimate from dead tuples (cheap and good enough to decide on VACUUM); exact bloat needs
-- the pgstattuple extension, which is not assumed.
CREATE FUNCTION ops.table_bloat()
RETURNS TABLE (schema_name text, table_name text, live_tuples bigint, dead_tuples bigint,
               dead_ratio numeric, last_autovacuum timestamptz, last_autoanalyze timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT schemaname::text, relname::text, n_live_tup, n_dead_tup,
           round(n_dead_tup::numeric / nullif(n_live_tup + n_dead_tup, 0), 4),
           greatest(last_vacuum, last_autovacuum), greatest(last_analyze, last_autoanalyze)
      FROM pg_stat_user_tables
     WHERE schemaname IN ('auth', 'wallet', 'trade', 'ops', 'public')
     ORDER BY n_dead_tup DESC
$$;

CREATE FUNCTION ops.index_usage()
RETURNS TABLE (schema_name text, table_name text, index_name text, scans bigint, index_bytes bigint)
LANGUAGE sql STABLE AS $$
    SELECT schemaname::text, relname::text, indexrelname::text, idx_scan, pg_relation_size(indexrelid)
      FROM pg_stat_user_indexes
     WHERE schemaname IN ('auth', 'wallet', 'trade', 'ops', 'public')
     ORDER BY idx_scan ASC, pg_relation_size(indexrelid) DESC
$$;

-- Connections by state: a saturated pool shows up here first.
CREATE FUNCTION ops.connection_summary()
RETURNS TABLE (state text, connections bigint, longest_seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(state, 'unknown'), count(*),
           coalesce(max(extract(epoch FROM now() - coalesce(query_start, backend_start))), 0)
      FROM pg_stat_activity WHERE datname = current_database()
     GROUP BY 1 ORDER BY 2 DESC
$$;
