-- 012-wallet-chain-simulator: what deposits and withdrawals need beyond 002 (owned by the wallet
-- service, docs/wallet.md): the watcher's per-chain scan cursor, withdrawal idempotency records, and
-- the tables of the built-in chain simulator used in development and tests.

-- ============================================================================ wallet
-- Where the deposit watcher stopped reading each chain adapter's list of incoming transfers.
-- The cursor is opaque (the adapter defines it) and moves in the same transaction that records the
-- deposits it covered, so a crash re-reads a page instead of skipping one.
CREATE TABLE wallet.chain_cursor (
    adapter     text NOT NULL,
    chain       text NOT NULL,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_chain_cursor PRIMARY KEY (adapter, chain)
);

-- Idempotency-Key replay: the request's fingerprint (same key + different body is refused) and the
-- exact response first returned (same key + same body gets it again).
ALTER TABLE wallet.withdrawal
    ADD COLUMN request_hash text,
    ADD COLUMN response jsonb,
    ADD CONSTRAINT ck_withdrawal_idempotency_key CHECK (idempotency_key IS NULL
        OR (length(idempotency_key) BETWEEN 1 AND 64 AND request_hash IS NOT NULL));

-- The daily limit sums a user's recent withdrawals per asset.
CREATE INDEX ix_withdrawal_user_id_asset_requested_at ON wallet.withdrawal (user_id, asset, requested_at DESC);
-- Verify and history look postings up by kind/ref; deposits and withdrawals by their posting.
CREATE INDEX ix_deposit_posting_id ON wallet.deposit (posting_id) WHERE posting_id IS NOT NULL;
CREATE INDEX ix_withdrawal_posting_id ON wallet.withdrawal (posting_id) WHERE posting_id IS NOT NULL;

-- ============================================================================ chain simulator
-- A pretend blockchain per chain name, persisted here so the `mycrypto chain ...` commands and the
-- server process share it. Never used in production (the CLI and the wallet refuse it there).
CREATE SCHEMA IF NOT EXISTS chainsim;

CREATE TABLE chainsim.chain (
    chain              text CONSTRAINT pk_chain PRIMARY KEY,
    height             bigint NOT NULL DEFAULT 0,
    -- when set, every broadcast on this chain is refused with this reason (to exercise failures)
    refuse_broadcasts  text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_chain_height CHECK (height >= 0)
);
INSERT INTO chainsim.chain (chain) SELECT DISTINCT chain FROM wallet.asset ORDER BY chain;

-- Addresses the simulator's "node" owns (handed out as deposit addresses).
CREATE TABLE chainsim.address (
    chain       text NOT NULL CONSTRAINT fk_address_chain REFERENCES chainsim.chain (chain),
    address     text NOT NULL,
    asset       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_address PRIMARY KEY (chain, address)
);

-- Every transfer on the pretend chain: sent from outside (`mycrypto chain send`) or broadcast by
-- the wallet (withdrawals; `reference` makes a repeated broadcast return the first txid).
-- block_height is NULL while the transfer waits in the mempool; confirmations = height - block + 1.
CREATE TABLE chainsim.transfer (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_transfer PRIMARY KEY,
    chain         text NOT NULL CONSTRAINT fk_transfer_chain REFERENCES chainsim.chain (chain),
    txid          text NOT NULL,
    vout          integer NOT NULL,
    asset         text NOT NULL,
    address       text NOT NULL,
    amount        numeric(38, 18) NOT NULL,
    reference     text,
    block_height  bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_transfer_chain_txid_vout UNIQUE (chain, txid, vout),
    CONSTRAINT uq_transfer_chain_reference UNIQUE (chain, reference),
    CONSTRAINT ck_transfer_amount_positive CHECK (amount > 0),
    CONSTRAINT ck_transfer_vout CHECK (vout >= 0)
);
CREATE INDEX ix_transfer_chain_id ON chainsim.transfer (chain, id);
CREATE INDEX ix_transfer_chain_txid ON chainsim.transfer (chain, txid);
CREATE INDEX ix_transfer_mempool ON chainsim.transfer (chain) WHERE block_height IS NULL;
