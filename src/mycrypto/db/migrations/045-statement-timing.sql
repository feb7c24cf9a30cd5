-- 045-statement-timing: per-statement timing against the query budget (`mycrypto db report`, load runs).
--
-- pg_stat_statements keeps calls, mean, standard deviation and max per statement, but no percentile.
-- ops.statement_timing() therefore also returns p95_bound_ms = mean + sqrt(19) * stddev: by
-- Cantelli's inequality P(X >= mean + k*stddev) <= 1 / (1 + k^2), which is 5 % for k = sqrt(19), for
-- ANY distribution. So the true p95 is at most that bound: a bound under the budget proves the
-- statement meets it; a bound over it proves nothing (then measure the p95, e.g. from sampled
-- durations in the server log, as bench/load does). Like ops.slow_queries() it returns no rows when
-- statistics are unavailable; ops.query_stats_status() says why.
CREATE FUNCTION ops.statement_timing(max_rows integer DEFAULT 50)
RETURNS TABLE (queryid bigint, query text, calls bigint, mean_ms double precision, stddev_ms double precision,
               max_ms double precision, total_ms double precision, p95_bound_ms double precision)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF ops.query_stats_status() <> 'ok' THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT s.queryid, left(regexp_replace(s.query, ''\s+'', '' '', ''g''), 300), s.calls,
                s.mean_exec_time, s.stddev_exec_time, s.max_exec_time, s.total_exec_time,
                s.mean_exec_time + sqrt(19) * s.stddev_exec_time
           FROM pg_stat_statements s
          WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY s.mean_exec_time DESC LIMIT $1'
        USING max_rows;
END $$;

-- Start a measurement window: forget this database's statement statistics (other databases on the
-- server keep theirs). False when statistics are unavailable.
CREATE FUNCTION ops.reset_query_stats() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF ops.query_stats_status() <> 'ok' THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)';
    RETURN true;
END $$;
