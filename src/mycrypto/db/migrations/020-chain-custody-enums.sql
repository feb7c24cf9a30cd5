-- 020-chain-custody-enums (issue 14, docs/wallet.md "Custody"): the system account kind that pays the
-- network fees (gas) of the exchange's own transactions (withdrawals, sweeps, hot -> cold moves).
-- Alone in its migration: a new enum value cannot be used in the transaction that adds it (021 does).
ALTER TYPE wallet.account_kind ADD VALUE IF NOT EXISTS 'network_fees';
