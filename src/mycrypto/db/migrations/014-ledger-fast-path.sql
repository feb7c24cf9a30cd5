-- 014-ledger-fast-path: make a balance change one round trip and cut per-row work on the hot tables.
-- (Measured in docs/PERFORMANCE.md: the group commit was bound by the ledger write.)

-- 1. The ledger primitive in SQL. wallet.repository.apply_changes calls this and nothing else
--    changes balances. Arguments are parallel arrays (cheap to send; amounts exact NUMERIC):
--      acc_ids, d_available, d_locked                     net change per account
--      p_kinds, p_ref_types, p_ref_ids, p_memos           the postings, in order
--      l_postings (1-based posting ordinal), l_accounts, l_assets, l_buckets, l_amounts   the legs
--    It locks every touched account in ascending id order (the platform's one lock order), refuses a
--    user balance going negative (check_violation, constraint 'insufficient_funds', DETAIL = asset)
--    before changing anything, applies the deltas, then inserts the postings and, in one statement,
--    all their legs (so the statement trigger of 002 sees every posting whole). Returns the new
--    posting ids in order.
CREATE FUNCTION wallet.apply_changes(
    acc_ids bigint[], d_available numeric[], d_locked numeric[],
    p_kinds text[], p_ref_types text[], p_ref_ids text[], p_memos text[],
    l_postings integer[], l_accounts bigint[], l_assets text[], l_buckets text[], l_amounts numeric[])
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    bad_asset text;
    locked_count integer;
    ids bigint[];
BEGIN
    IF cardinality(acc_ids) > 0 THEN
        SELECT count(*) INTO locked_count FROM (
            SELECT a.id FROM wallet.account a WHERE a.id = ANY(acc_ids) ORDER BY a.id FOR UPDATE) l;
        IF locked_count <> cardinality(acc_ids) THEN
            RAISE EXCEPTION 'ledger change names % account(s) that do not exist',
                cardinality(acc_ids) - locked_count
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'account_missing';
        END IF;
        SELECT a.asset INTO bad_asset
          FROM wallet.account a JOIN unnest(acc_ids, d_available, d_locked) AS x(id, da, dl) ON x.id = a.id
         WHERE a.id = ANY(acc_ids)   -- (repeated so the plan is an index scan, never a full scan)
           AND a.kind = 'user' AND (a.available + x.da < 0 OR a.locked + x.dl < 0) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'insufficient % balance', bad_asset
                USING ERRCODE = 'check_violation', CONSTRAINT = 'insufficient_funds', DETAIL = bad_asset;
        END IF;
        UPDATE wallet.account a SET available = a.available + x.da, locked = a.locked + x.dl, updated_at = now()
          FROM unnest(acc_ids, d_available, d_locked) AS x(id, da, dl)
         WHERE a.id = x.id AND a.id = ANY(acc_ids);
    END IF;
    IF coalesce(cardinality(p_kinds), 0) = 0 THEN
        RETURN '{}';
    END IF;
    ids := ARRAY(SELECT nextval('wallet.posting_id_seq') FROM generate_series(1, cardinality(p_kinds)));
    INSERT INTO wallet.posting (id, kind, ref_type, ref_id, memo) OVERRIDING SYSTEM VALUE
    SELECT ids[u.ord], u.kind::wallet.posting_kind, u.ref_type, u.ref_id, u.memo
      FROM unnest(p_kinds, p_ref_types, p_ref_ids, p_memos) WITH ORDINALITY AS u(kind, ref_type, ref_id, memo, ord);
    INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount)
    SELECT ids[l.ord], l.account_id, l.asset, l.bucket::wallet.balance_bucket, l.amount
      FROM unnest(l_postings, l_accounts, l_assets, l_buckets, l_amounts) AS l(ord, account_id, asset, bucket, amount);
    RETURN ids;
END $$;

-- 2. The deferred per-posting check (002) in one query instead of two.
CREATE OR REPLACE FUNCTION wallet.check_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    legs bigint;
    unbalanced boolean;
BEGIN
    SELECT coalesce(sum(n), 0), coalesce(bool_or(total <> 0), false) INTO legs, unbalanced
      FROM (SELECT count(*) AS n, sum(amount) AS total FROM wallet.posting_leg
             WHERE posting_id = NEW.id GROUP BY asset) per_asset;
    IF legs < 2 THEN
        RAISE EXCEPTION 'posting % has % leg(s); a posting needs at least two', NEW.id, legs
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_posting_balanced';
    END IF;
    IF unbalanced THEN
        RAISE EXCEPTION 'posting % does not balance', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_posting_balanced';
    END IF;
    RETURN NULL;
END $$;

-- 3. The legs' two foreign keys become one set-based check per INSERT statement. A row-level FK
--    runs a locking lookup (FOR KEY SHARE) per leg and per key - about 100 us of a trade's 5 legs -
--    while the same guarantee holds with one join per statement, because the referenced rows can
--    never go away: postings are append-only (002) and accounts can be neither deleted nor re-keyed
--    (trigger below). The check keeps the FK semantics: every leg names an existing posting and an
--    existing account OF THE SAME ASSET.
CREATE OR REPLACE FUNCTION wallet.check_new_legs_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    account_ids bigint[];
    posting_ids bigint[];
    found_postings integer;
BEGIN
    SELECT posting_id, asset, sum(amount) AS total INTO bad
      FROM new_legs GROUP BY posting_id, asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced posting %: % legs sum to %', bad.posting_id, bad.asset, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_posting_leg_balanced';
    END IF;
    -- Lookups go through "id = ANY(array)" so they are primary-key probes of the few rows named,
    -- never a scan of the (large) account or posting table.
    account_ids := ARRAY(SELECT DISTINCT account_id FROM new_legs);
    SELECT l.account_id, l.asset INTO bad
      FROM (SELECT DISTINCT account_id, asset FROM new_legs) l
      LEFT JOIN (SELECT id, asset FROM wallet.account WHERE id = ANY(account_ids)) a
             ON a.id = l.account_id AND a.asset = l.asset
     WHERE a.id IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'leg names account % in %, which does not exist', bad.account_id, bad.asset
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_posting_leg_account_id_asset';
    END IF;
    posting_ids := ARRAY(SELECT DISTINCT posting_id FROM new_legs);
    SELECT count(*) INTO found_postings FROM wallet.posting WHERE id = ANY(posting_ids);
    IF found_postings <> cardinality(posting_ids) THEN
        RAISE EXCEPTION 'a leg names a posting that does not exist'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_posting_leg_posting_id';
    END IF;
    RETURN NULL;
END $$;
ALTER TABLE wallet.posting_leg DROP CONSTRAINT fk_posting_leg_posting_id,
    DROP CONSTRAINT fk_posting_leg_account_id_asset;

CREATE FUNCTION wallet.refuse_account_rekey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are permanent: % of account % is not allowed', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER tr_account_permanent BEFORE DELETE OR UPDATE OF id, asset, kind, user_id ON wallet.account
    FOR EACH ROW EXECUTE FUNCTION wallet.refuse_account_rekey();

-- 4. Foreign keys that only re-prove what another constraint already proves, dropped from the
--    tables written on every trade. Each FK check locks the referenced row (FOR KEY SHARE) and was
--    ~14 us per row. What still holds, and why it is enough:
--    - trade.market_id / buyer_user_id / seller_user_id / fee_asset: a trade references its taker
--      and maker orders (FKs kept), and those orders reference their user and market (FKs kept);
--      `mycrypto verify` cross-checks trades against their orders and postings.
--    - spot_order.hold_asset: always the market's base or quote asset (written by the engine from
--      the market row); spot_order.market_id FK is kept.
ALTER TABLE trade.trade DROP CONSTRAINT fk_trade_market_id, DROP CONSTRAINT fk_trade_buyer_user_id,
    DROP CONSTRAINT fk_trade_seller_user_id, DROP CONSTRAINT fk_trade_fee_asset;
ALTER TABLE trade.spot_order DROP CONSTRAINT fk_spot_order_hold_asset;

-- 5. Legs: the primary key (posting_id, id) replaces pk(id) + ix(posting_id): one index less per leg,
--    and lookups by posting (the deferred check, history) use the primary key.
ALTER TABLE wallet.posting_leg DROP CONSTRAINT pk_posting_leg,
    ADD CONSTRAINT pk_posting_leg PRIMARY KEY (posting_id, id);
DROP INDEX wallet.ix_posting_leg_posting_id;

-- 6. The trade engine's group commit as ONE call (run outside an explicit transaction, so the call is
--    its own transaction: one round trip per batch). In order: the fences, the ledger
--    (wallet.apply_changes: holds and one posting per trade, in trade order), then new orders, changed
--    orders, trades (posting id = the posting of the same ordinal) and candle upserts. Amounts travel
--    as integer units in JSONB rows and are scaled here by exact NUMERIC factors.
--    The engine pipelines: it sends batch N+1 while batch N is still committing, so a batch may only
--    commit right after its predecessor. Returns 1 = committed; 0 = fenced (another replica owns the
--    market now, nothing written); 2 = the previous batch did not commit (nothing written).
CREATE FUNCTION trade.commit_batch(
    p_market_id integer, p_epoch bigint, p_update_id bigint, tick numeric, lot numeric, qunit numeric,
    bunit numeric, feeunit numeric, quote_asset text, base_asset text,
    new_orders jsonb, changed_orders jsonb, trades jsonb, candles jsonb,
    acc_ids bigint[], d_available numeric[], d_locked numeric[],
    p_kinds text[], p_ref_types text[], p_ref_ids text[], p_memos text[],
    l_postings integer[], l_accounts bigint[], l_assets text[], l_buckets text[], l_amounts numeric[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cur_epoch bigint;
    cur_update bigint;
    posting_ids bigint[];
BEGIN
    -- the row lock also queues a pipelined successor until this transaction ends
    SELECT epoch, book_update_id INTO cur_epoch, cur_update
      FROM trade.market_engine WHERE market_id = p_market_id FOR NO KEY UPDATE;
    IF cur_epoch IS DISTINCT FROM p_epoch THEN
        RETURN 0;
    END IF;
    IF cur_update <> p_update_id - 1 THEN
        RETURN 2;
    END IF;
    UPDATE trade.market_engine SET book_update_id = p_update_id WHERE market_id = p_market_id;
    posting_ids := wallet.apply_changes(acc_ids, d_available, d_locked, p_kinds, p_ref_types, p_ref_ids, p_memos,
                                        l_postings, l_accounts, l_assets, l_buckets, l_amounts);
    INSERT INTO trade.spot_order (id, user_id, market_id, client_order_id, side, type, time_in_force, post_only,
        stp, price, quantity, quote_quantity, filled_quantity, filled_quote, fee_total, fee_exact, hold_asset,
        hold_amount, hold_remaining, status, reason, created_at, updated_at)
    SELECT (n->>0)::bigint, (n->>1)::bigint, p_market_id, n->>2, (n->>3)::trade.order_side, (n->>4)::trade.order_type,
           (n->>5)::trade.time_in_force, (n->>6)::boolean, (n->>7)::trade.stp_mode,
           (n->>8)::numeric * tick, (n->>9)::numeric * lot, (n->>10)::numeric * qunit,
           (n->>11)::numeric * lot, (n->>12)::numeric * qunit, (n->>13)::numeric * qunit, (n->>14)::numeric * feeunit,
           CASE WHEN n->>3 = 'buy' THEN quote_asset ELSE base_asset END,
           (n->>15)::numeric * CASE WHEN n->>3 = 'buy' THEN qunit ELSE bunit END,
           (n->>16)::numeric * CASE WHEN n->>3 = 'buy' THEN qunit ELSE bunit END,
           (n->>17)::trade.order_status, n->>18,
           'epoch'::timestamptz + (n->>19)::bigint * interval '1 millisecond',
           'epoch'::timestamptz + (n->>20)::bigint * interval '1 millisecond'
      FROM jsonb_array_elements(new_orders) AS n;
    UPDATE trade.spot_order o
       SET quantity = (u->>1)::numeric * lot, filled_quantity = (u->>2)::numeric * lot,
           filled_quote = (u->>3)::numeric * qunit, fee_total = (u->>4)::numeric * qunit,
           fee_exact = (u->>5)::numeric * feeunit,
           hold_remaining = (u->>6)::numeric * CASE WHEN o.side = 'buy' THEN qunit ELSE bunit END,
           status = (u->>7)::trade.order_status, reason = u->>8,
           updated_at = 'epoch'::timestamptz + (u->>9)::bigint * interval '1 millisecond'
      FROM jsonb_array_elements(changed_orders) AS u
     WHERE o.id = (u->>0)::bigint
       -- the id list again, so the plan is an index scan of the few changed rows, never a full scan
       AND o.id = ANY(ARRAY(SELECT (e->>0)::bigint FROM jsonb_array_elements(changed_orders) AS e));
    INSERT INTO trade.trade (market_id, id, taker_order_id, maker_order_id, taker_side, price, quantity,
        quote_quantity, buyer_user_id, seller_user_id, buyer_fee, seller_fee, fee_asset, posting_id, created_at)
    SELECT p_market_id, (t->>0)::bigint, (t->>1)::bigint, (t->>2)::bigint, (t->>3)::trade.order_side,
           (t->>4)::numeric * tick, (t->>5)::numeric * lot, (t->>6)::numeric * qunit,
           (t->>7)::bigint, (t->>8)::bigint, (t->>9)::numeric * qunit, (t->>10)::numeric * qunit, quote_asset,
           posting_ids[x.ord], 'epoch'::timestamptz + (t->>11)::bigint * interval '1 millisecond'
      FROM jsonb_array_elements(trades) WITH ORDINALITY AS x(t, ord);
    INSERT INTO trade.candle AS c (market_id, interval, open_time, open, high, low, close, volume, quote_volume,
        trade_count, first_trade_id, last_trade_id)
    SELECT p_market_id, k->>0, 'epoch'::timestamptz + (k->>1)::bigint * interval '1 millisecond',
           (k->>2)::numeric * tick, (k->>3)::numeric * tick, (k->>4)::numeric * tick, (k->>5)::numeric * tick,
           (k->>6)::numeric * lot, (k->>7)::numeric * qunit, (k->>8)::int, (k->>9)::bigint, (k->>10)::bigint
      FROM jsonb_array_elements(candles) AS k
    ON CONFLICT (market_id, interval, open_time) DO UPDATE
       SET high = greatest(c.high, EXCLUDED.high), low = least(c.low, EXCLUDED.low), close = EXCLUDED.close,
           volume = c.volume + EXCLUDED.volume, quote_volume = c.quote_volume + EXCLUDED.quote_volume,
           trade_count = c.trade_count + EXCLUDED.trade_count, last_trade_id = EXCLUDED.last_trade_id;
    RETURN 1;
END $$;
