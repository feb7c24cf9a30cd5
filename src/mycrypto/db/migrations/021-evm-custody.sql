-- 021-evm-custody (issue 14, docs/wallet.md "EVM adapter", "Custody", "Reorgs"): what real-chain custody
-- needs beyond the simulator. Generic wallet tables first (any chain adapter with reorgs and fees uses
-- them), then schema `evm`, owned by wallet/chain/evm (the EVM adapter's own state).

-- ============================================================================ wallet (generic)
-- Network fees paid by the exchange: one per asset like the other system accounts (only the native
-- coin of a chain is ever charged). Postings: network_fees -gas, chain_out +gas.
INSERT INTO wallet.account (kind, asset)
SELECT 'network_fees', code FROM wallet.asset ORDER BY code
    ON CONFLICT (kind, asset) WHERE kind <> 'user' DO NOTHING;

-- One deposit address per user and chain (asset family): ETH and USDT share it. The same address may
-- appear once per asset of the user; it never belongs to two users (trigger below).
ALTER TABLE wallet.deposit_address DROP CONSTRAINT uq_deposit_address_chain_address;
ALTER TABLE wallet.deposit_address
    ADD CONSTRAINT uq_deposit_address_chain_address_asset UNIQUE (chain, address, asset);
CREATE INDEX ix_deposit_address_chain_address ON wallet.deposit_address (chain, address);

CREATE FUNCTION wallet.check_deposit_address_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM wallet.deposit_address
                WHERE chain = NEW.chain AND address = NEW.address AND user_id <> NEW.user_id) THEN
        RAISE EXCEPTION 'deposit address % on % belongs to another user', NEW.address, NEW.chain
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_deposit_address_owner';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tr_deposit_address_owner BEFORE INSERT OR UPDATE ON wallet.deposit_address
    FOR EACH ROW EXECUTE FUNCTION wallet.check_deposit_address_owner();

-- A credited deposit whose block left the chain (a reorganisation deeper than its confirmations): what
-- was still available of it is held (available -> locked) until an operator releases or reverses it.
-- `mycrypto verify` counts open freezes as holds (locked_matches_holds).
CREATE TABLE wallet.deposit_freeze (
    deposit_id   bigint CONSTRAINT pk_deposit_freeze PRIMARY KEY
                 CONSTRAINT fk_deposit_freeze_deposit_id REFERENCES wallet.deposit (id),
    user_id      bigint NOT NULL CONSTRAINT fk_deposit_freeze_user_id REFERENCES auth.app_user (id),
    asset        text NOT NULL,
    amount       numeric(38, 18) NOT NULL,
    held         numeric(38, 18) NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolution   text,
    resolved_by  text,
    posting_id   bigint CONSTRAINT fk_deposit_freeze_posting_id REFERENCES wallet.posting (id),
    CONSTRAINT ck_deposit_freeze_held CHECK (held >= 0 AND held <= amount),
    CONSTRAINT ck_deposit_freeze_resolution CHECK (resolution IN ('released', 'reversed')
        AND resolved_at IS NOT NULL OR resolution IS NULL AND resolved_at IS NULL)
);
CREATE INDEX ix_deposit_freeze_open ON wallet.deposit_freeze (user_id, asset) WHERE resolved_at IS NULL;

-- Alerts an operator must look at (deep reorganisations, reverted sweeps, wrong chain...). Open ones
-- make the chain "degraded" in /health; `mycrypto chain alerts` lists and resolves them.
CREATE TABLE wallet.chain_alert (
    id           bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_chain_alert PRIMARY KEY,
    chain        text NOT NULL,
    kind         text NOT NULL,
    message      text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  text
);
CREATE INDEX ix_chain_alert_open ON wallet.chain_alert (chain) WHERE resolved_at IS NULL;

-- The last thing each chain's adapter saw of its node (written by the background loop, read by /health).
CREATE TABLE wallet.chain_status (
    chain        text CONSTRAINT pk_chain_status PRIMARY KEY,
    adapter      text NOT NULL,
    status       text NOT NULL,
    detail       text,
    head         bigint,
    scanned      bigint,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    last_ok_at   timestamptz,
    CONSTRAINT ck_chain_status_status CHECK (status IN ('ok', 'degraded'))
);

-- A withdrawal whose transaction was mined but reverted: its posting is reversed (the user gets
-- amount + fee back, exactly once) and the status becomes failed.
ALTER TABLE wallet.withdrawal
    ADD COLUMN reversal_posting_id bigint CONSTRAINT fk_withdrawal_reversal_posting_id REFERENCES wallet.posting (id);

-- ============================================================================ evm (the EVM adapter)
CREATE SCHEMA IF NOT EXISTS evm;

-- Deposit addresses derived from the deposit account's xpub: m/44'/60'/0'/0/<hd_index>.
CREATE SEQUENCE evm.hd_index_seq AS integer MINVALUE 0 START 0;
CREATE TABLE evm.address (
    chain          text NOT NULL,
    address        text NOT NULL,
    hd_index       integer NOT NULL,
    created_block  bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_address PRIMARY KEY (chain, address),
    CONSTRAINT uq_address_chain_hd_index UNIQUE (chain, hd_index)
);
-- the node reports addresses in lower case; we keep the EIP-55 form users see
CREATE UNIQUE INDEX uq_address_chain_lower ON evm.address (chain, lower(address));

-- The hashes of the blocks the watcher scanned (recent ones), to notice a reorganisation.
CREATE TABLE evm.block (
    chain        text NOT NULL,
    number       bigint NOT NULL,
    hash         text NOT NULL,
    parent_hash  text NOT NULL,
    seen_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_block PRIMARY KEY (chain, number)
);

-- Every incoming transfer to one of our deposit addresses, as found in a scanned block: native
-- transfers have log_index -1, ERC-20 Transfer logs their log index. `amount` is exact (wei precision).
-- booked_amount: what beyond the user's credit was posted to `fees` (sub-unit remainders, transfers to
-- addresses no user holds), so the ledger matches the chain to the last wei.
CREATE TABLE evm.transfer (
    chain          text NOT NULL,
    txid           text NOT NULL,
    log_index      integer NOT NULL,
    block_number   bigint NOT NULL,
    block_hash     text NOT NULL,
    from_address   text NOT NULL,
    to_address     text NOT NULL,
    asset          text NOT NULL,
    amount         numeric(38, 18) NOT NULL,
    booked_amount  numeric(38, 18) NOT NULL DEFAULT 0,
    posting_id     bigint CONSTRAINT fk_transfer_posting_id REFERENCES wallet.posting (id),
    settled_at     timestamptz,
    swept_by       bigint,
    seen_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_transfer PRIMARY KEY (chain, txid, log_index),
    CONSTRAINT ck_transfer_amount CHECK (amount > 0 AND booked_amount >= 0 AND booked_amount <= amount)
);
CREATE INDEX ix_transfer_chain_block ON evm.transfer (chain, block_number);
CREATE INDEX ix_transfer_unswept ON evm.transfer (chain, to_address, asset) WHERE swept_by IS NULL;
CREATE INDEX ix_transfer_unsettled ON evm.transfer (chain) WHERE settled_at IS NULL;

-- Deposits removed because their block was orphaned before they were credited (kept for audit).
CREATE TABLE evm.dropped_deposit (
    deposit_id  bigint CONSTRAINT pk_dropped_deposit PRIMARY KEY,
    chain       text NOT NULL,
    row         jsonb NOT NULL,
    reason      text NOT NULL,
    dropped_at  timestamptz NOT NULL DEFAULT now()
);

-- The next nonce of each address we send from (hot wallet, deposit addresses being swept).
CREATE TABLE evm.nonce (
    chain       text NOT NULL,
    address     text NOT NULL,
    next_nonce  bigint NOT NULL,
    CONSTRAINT pk_nonce PRIMARY KEY (chain, address),
    CONSTRAINT ck_nonce_next CHECK (next_nonce >= 0)
);

-- Our own transactions, one row per logical transfer (idempotent on reference), whatever the fee
-- replacements: status pending (no receipt) -> mined (receipt seen, waiting for confirmations) ->
-- settled (network fee posted; a reverted withdrawal reversed). Written before it is sent.
CREATE TABLE evm.tx (
    id                bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_tx PRIMARY KEY,
    chain             text NOT NULL,
    kind              text NOT NULL,
    reference         text NOT NULL,
    from_address      text NOT NULL,
    from_index        integer,
    to_address        text NOT NULL,
    asset             text NOT NULL,
    amount            numeric(38, 18) NOT NULL,
    nonce             bigint NOT NULL,
    gas_limit         bigint NOT NULL,
    status            text NOT NULL DEFAULT 'pending',
    success           boolean,
    first_hash        text NOT NULL,
    mined_hash        text,
    mined_block       bigint,
    mined_block_hash  text,
    gas_used          bigint,
    gas_price         numeric(38, 0),
    gas_cost          numeric(38, 18),
    gas_posting_id    bigint CONSTRAINT fk_tx_gas_posting_id REFERENCES wallet.posting (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    settled_at        timestamptz,
    CONSTRAINT uq_tx_chain_reference UNIQUE (chain, reference),
    CONSTRAINT uq_tx_chain_from_nonce UNIQUE (chain, from_address, nonce),
    CONSTRAINT ck_tx_kind CHECK (kind IN ('withdrawal', 'sweep', 'fund', 'cold')),
    CONSTRAINT ck_tx_status CHECK (status IN ('pending', 'mined', 'settled')),
    CONSTRAINT ck_tx_amount CHECK (amount >= 0)
);
CREATE INDEX ix_tx_open ON evm.tx (chain, id) WHERE status <> 'settled';
CREATE INDEX ix_tx_first_hash ON evm.tx (first_hash);

-- Each signed version of a transaction (the first, then fee replacements with the same nonce).
CREATE TABLE evm.tx_attempt (
    hash              text CONSTRAINT pk_tx_attempt PRIMARY KEY,
    tx_id             bigint NOT NULL CONSTRAINT fk_tx_attempt_tx_id REFERENCES evm.tx (id),
    nonce             bigint NOT NULL,
    raw               text NOT NULL,
    max_fee           numeric(38, 0) NOT NULL,
    max_priority_fee  numeric(38, 0) NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    send_error        text
);
CREATE INDEX ix_tx_attempt_tx_id ON evm.tx_attempt (tx_id, created_at);
