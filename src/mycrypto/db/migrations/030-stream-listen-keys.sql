-- Binance-compatible user data streams (issue 13, docs/streams.md): a listen key names one user's
-- private stream for API-key clients (POST/PUT/DELETE /api/v3/userDataStream). It expires unless
-- kept alive (PUT) within STREAM_LISTEN_KEY_TTL_SECONDS; connections using it then get their
-- private streams ended.
CREATE SCHEMA IF NOT EXISTS streams;

CREATE TABLE streams.listen_key (
    listen_key  text PRIMARY KEY CHECK (length(listen_key) = 60),
    user_id     bigint NOT NULL REFERENCES auth.app_user(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX listen_key_user ON streams.listen_key (user_id);
