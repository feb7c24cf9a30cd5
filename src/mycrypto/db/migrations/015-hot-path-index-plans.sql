-- 015-hot-path-index-plans: the ledger and group-commit functions always plan index scans.
--
-- PL/pgSQL caches a statement's plan per session after its first executions. The trade engine's
-- connections live for days, so a plan built while a table was still small (a fresh exchange, or
-- before autovacuum ever analyzed it) could stay a sequential scan as the table grows: measured in
-- the end-to-end benchmark, every batch then read the whole of wallet.posting, trade.spot_order and
-- wallet.account (millions of rows per minute), and the cost per order rose with the tables' size.
-- These functions only ever touch the few rows a batch names, by primary or unique key, so
-- sequential scans are disabled inside them (an index scan is chosen whenever one exists; a
-- statement with no usable index still runs, as a sequential scan).
ALTER FUNCTION trade.commit_batch SET enable_seqscan = off;
ALTER FUNCTION wallet.apply_changes SET enable_seqscan = off;
ALTER FUNCTION wallet.check_new_legs_balanced SET enable_seqscan = off;
ALTER FUNCTION wallet.check_posting_balanced SET enable_seqscan = off;
