-- 011-auth-security: login lockout per (account, client IP), email delivery records (dedup + dead
-- letters), and housekeeping for both. Owned by the auth/notifier services (docs/auth.md, docs/email.md).

-- Failed logins per (user, client IP). Backoff is per source so one attacker cannot lock the owner out
-- from everywhere; the account-wide counter on app_user catches distributed guessing.
CREATE TABLE auth.login_failure (
    user_id         bigint NOT NULL CONSTRAINT fk_login_failure_user_id REFERENCES auth.app_user (id) ON DELETE CASCADE,
    ip              text NOT NULL,
    failures        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_login_failure PRIMARY KEY (user_id, ip),
    CONSTRAINT ck_login_failure_failures CHECK (failures >= 0)
);
CREATE INDEX ix_login_failure_last_failed_at ON auth.login_failure (last_failed_at);

-- Account-wide failures decay: the counter restarts when the last failure is older than the decay window.
ALTER TABLE auth.app_user ADD COLUMN last_failed_login_at timestamptz;

-- One row per email the notifier finished with: 'sent' makes redelivered messages (at-least-once
-- relay) a no-op; 'dead' records what went to the dead-letter queue and why.
CREATE TABLE ops.email_delivery (
    outbox_id   bigint CONSTRAINT pk_email_delivery PRIMARY KEY,
    topic       text NOT NULL,
    recipient   text NOT NULL,
    status      text NOT NULL,
    attempts    integer NOT NULL DEFAULT 1,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_email_delivery_status CHECK (status IN ('sent', 'dead'))
);
CREATE INDEX ix_email_delivery_dead ON ops.email_delivery (updated_at) WHERE status = 'dead';

-- Session lookups by family (revoke one session, list sessions) without scanning a user's history.
CREATE INDEX ix_refresh_token_family_id ON auth.refresh_token (family_id);

-- Housekeeping (called by ops.run_maintenance via purge_expired_tokens): also drop stale login
-- failures and old delivery records. Same signature as 006, so `mycrypto maintenance` picks it up.
CREATE OR REPLACE FUNCTION ops.purge_expired_tokens(keep interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n1 bigint;
    n2 bigint;
    n3 bigint;
    n4 bigint;
BEGIN
    DELETE FROM auth.email_token
     WHERE expires_at < now() - keep OR (used_at IS NOT NULL AND used_at < now() - keep);
    GET DIAGNOSTICS n1 = ROW_COUNT;
    DELETE FROM auth.refresh_token
     WHERE expires_at < now() - keep OR (revoked_at IS NOT NULL AND revoked_at < now() - keep);
    GET DIAGNOSTICS n2 = ROW_COUNT;
    DELETE FROM auth.login_failure
     WHERE last_failed_at < now() - keep AND (locked_until IS NULL OR locked_until < now());
    GET DIAGNOSTICS n3 = ROW_COUNT;
    DELETE FROM ops.email_delivery WHERE status = 'sent' AND updated_at < now() - keep;
    GET DIAGNOSTICS n4 = ROW_COUNT;
    RETURN n1 + n2 + n3 + n4;
END $$;
