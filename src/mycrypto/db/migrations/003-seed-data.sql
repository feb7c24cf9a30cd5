-- 003-seed-data: the launch assets, markets and the system accounts that close the books.
--
-- Sizes are chosen so that tick_size * lot_size is a whole number of the quote asset's smallest
-- unit (10^-decimals): a trade's cost price * qty is then exact, and only fees are rounded.

INSERT INTO wallet.asset (code, name, decimals, chain, confirmations_required, address_pattern,
                          min_withdrawal, withdrawal_fee, daily_withdrawal_limit, withdrawal_auto_approve_max)
VALUES
    -- bech32 (bc1/tb1/bcrt1) or legacy base58 addresses
    ('BTC',  'Bitcoin',  8, 'bitcoin',  2, '^((bc1|tb1|bcrt1)[02-9ac-hj-np-z]{11,71}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34})$',
     0.0001, 0.00002, 5, 0.5),
    ('ETH',  'Ether',    8, 'ethereum', 3, '^0x[0-9a-fA-F]{40}$',
     0.001, 0.0005, 100, 10),
    ('USDT', 'Tether USD (ERC-20)', 8, 'ethereum', 3, '^0x[0-9a-fA-F]{40}$',
     10, 1, 100000, 10000);

INSERT INTO trade.market (symbol, base_asset, quote_asset, tick_size, lot_size, min_qty, max_qty,
                          min_notional, maker_fee, taker_fee)
VALUES
    ('BTC-USDT', 'BTC', 'USDT', 0.01,    0.00001, 0.00001, 9000,   5,      0.0008, 0.0010),
    ('ETH-USDT', 'ETH', 'USDT', 0.01,    0.0001,  0.0001,  90000,  5,      0.0008, 0.0010),
    ('ETH-BTC',  'ETH', 'BTC',  0.00001, 0.001,   0.001,   100000, 0.0001, 0.0008, 0.0010);

-- System accounts per asset: fees (income), chain_in (coins deposited from outside),
-- chain_out (coins sent outside). Per asset, the sum over all accounts is always zero.
INSERT INTO wallet.account (kind, asset)
SELECT k.kind::wallet.account_kind, a.code
  FROM wallet.asset a CROSS JOIN (VALUES ('fees'), ('chain_in'), ('chain_out')) AS k(kind)
 ORDER BY a.code, k.kind;
