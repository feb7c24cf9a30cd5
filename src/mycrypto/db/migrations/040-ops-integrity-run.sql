-- 040-ops-integrity-run: results of `mycrypto integrity --record` (the post-deploy gate and the
-- scheduled ledger check). The services read the latest row into /metrics
-- (mycrypto_ledger_verify_ok, _problems, _timestamp_seconds), which the "ledger drift" alert watches.
CREATE TABLE ops.integrity_run (
    id           bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_integrity_run PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    ok           boolean NOT NULL,
    problems     bigint NOT NULL,
    report       jsonb NOT NULL
);
CREATE INDEX ix_integrity_run_finished_at ON ops.integrity_run (finished_at DESC);
