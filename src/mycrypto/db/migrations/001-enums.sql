-- 001-enums: one schema per service and the enumerated types the tables use.
-- Constraint naming convention (all migrations): pk_<table>, fk_<table>_<column>, uq_<table>_<cols>,
-- ck_<table>_<rule>, ix_<table>_<cols>.

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS wallet;
CREATE SCHEMA IF NOT EXISTS trade;
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TYPE auth.user_role AS ENUM ('user', 'admin');
CREATE TYPE auth.user_status AS ENUM ('active', 'disabled');
CREATE TYPE auth.email_token_purpose AS ENUM ('verify_email', 'reset_password');

CREATE TYPE wallet.account_kind AS ENUM ('user', 'fees', 'chain_in', 'chain_out');
CREATE TYPE wallet.balance_bucket AS ENUM ('available', 'locked');
CREATE TYPE wallet.posting_kind AS ENUM ('deposit', 'withdrawal', 'trade', 'faucet', 'adjustment');
CREATE TYPE wallet.deposit_status AS ENUM ('pending', 'confirmed', 'credited');
CREATE TYPE wallet.withdrawal_status AS ENUM
    ('requested', 'approved', 'broadcast', 'confirmed', 'rejected', 'failed', 'cancelled');

CREATE TYPE trade.order_side AS ENUM ('buy', 'sell');
CREATE TYPE trade.order_type AS ENUM ('limit', 'market');
CREATE TYPE trade.time_in_force AS ENUM ('GTC', 'IOC', 'FOK');
CREATE TYPE trade.order_status AS ENUM
    ('new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired');
CREATE TYPE trade.stp_mode AS ENUM ('expire_maker', 'expire_taker', 'expire_both', 'none');
CREATE TYPE trade.market_status AS ENUM ('trading', 'halted');
