"""Data-encryption key rotation for the secrets auth stores: `mycrypto keys status` and `mycrypto keys rotate`.

Stored ciphertexts (common.crypto) name their key id: API-key secrets (auth.api_key.secret_enc) and TOTP
seeds, pending or enabled (auth.app_user.totp_secret_enc). After a new key is put first in
DATA_ENCRYPTION_KEYS, new values use it at once and old ones still decrypt; `rotate` then re-encrypts
the old ones with the active key so the old key can be retired (docs/key-rotation.md).

`rotate` runs while the platform serves traffic: each batch is its own short transaction that locks only
the rows it rewrites (`FOR NO KEY UPDATE SKIP LOCKED`: a row a request is using right now is left for
the next pass instead of being waited for), decrypts and re-encrypts in memory and writes back. Rows
already under the active key are never selected, so a second run (or a run after an interruption)
simply continues: it is idempotent and resumable. A value that does not decrypt (its key is not
configured) is counted and left alone, never overwritten.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..common.crypto import DecryptError, decrypt, encrypt, needs_reencrypt
from ..config import KeyRing
from . import audit
from .apikeys import SECRET_PURPOSE
from .totp import TOTP_PURPOSE

MAX_PASSES = 5  # a pass after the first only retries rows that were busy (locked by a request)


@dataclass(frozen=True)
class Store:
    name: str      # shown to operators
    table: str
    column: str
    purpose: str   # the common.crypto purpose label the values were encrypted for


# fixed identifiers only: these are interpolated into SQL, never anything from input
STORES = (
    Store("api_key_secrets", "auth.api_key", "secret_enc", SECRET_PURPOSE),
    Store("totp_seeds", "auth.app_user", "totp_secret_enc", TOTP_PURPOSE),
)


@dataclass
class RotateResult:
    active_key_id: str
    reencrypted: dict[str, int] = field(default_factory=dict)
    undecryptable: dict[str, list[int]] = field(default_factory=dict)  # store -> row ids
    remaining: dict[str, int] = field(default_factory=dict)  # not under the active key after the run
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())

    @property
    def complete(self) -> bool:
        return not any(self.remaining.values())


async def key_status(conn: Any, keys: KeyRing) -> dict[str, Any]:
    """Configured key ids and, per store, how many stored values each key id holds."""
    stores: dict[str, dict[str, int]] = {}
    for store in STORES:
        rows = await conn.fetch(
            f"SELECT CASE WHEN starts_with(c, 'v1.') THEN 'default (v1)' "
            f"WHEN starts_with(c, 'v2.') THEN split_part(c, '.', 2) ELSE '?' END AS kid, count(*) AS n "
            f"FROM (SELECT {store.column} AS c FROM {store.table} WHERE {store.column} IS NOT NULL) s "
            f"GROUP BY 1 ORDER BY 1")
        stores[store.name] = {r["kid"]: int(r["n"]) for r in rows}
    configured = set(keys.ids)
    missing = sorted({kid for counts in stores.values() for kid in counts
                      if kid.removesuffix(" (v1)") not in configured})
    pending = sum(n for counts in stores.values() for kid, n in counts.items() if kid != keys.active_id)
    return {"active": keys.active_id, "configured": list(keys.ids), "stores": stores,
            "pending_reencryption": pending, "unknown_key_ids": missing}


async def rotate(conn: Any, keys: KeyRing, *, batch_size: int = 500,
                 progress: Callable[[str, int], None] | None = None) -> RotateResult:
    """Re-encrypt every stored value that is not under the active key, `batch_size` rows per transaction."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    result = RotateResult(keys.active_id)
    prefix = f"v2.{keys.active_id}."
    for store in STORES:
        result.reencrypted[store.name] = 0
        bad: set[int] = set()
        for _ in range(MAX_PASSES):
            done = await _one_pass(conn, keys, store, prefix, batch_size, bad, result, progress)
            remaining = await _remaining(conn, store, prefix)
            if remaining <= len(bad) or not done:
                break
        result.undecryptable[store.name] = sorted(bad)
        result.remaining[store.name] = await _remaining(conn, store, prefix)
    if result.total:
        await audit.record(conn, "data_keys_rotated", details={
            "active_key_id": keys.active_id, "reencrypted": result.reencrypted,
            "undecryptable": {k: len(v) for k, v in result.undecryptable.items()}})
    return result


async def _one_pass(conn: Any, keys: KeyRing, store: Store, prefix: str, batch_size: int, bad: set[int],
                    result: RotateResult, progress: Callable[[str, int], None] | None) -> int:
    """Walk the table once by id; returns how many rows this pass re-encrypted."""
    last_id, done = 0, 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, {store.column} AS c FROM {store.table} "
                f"WHERE id > $1 AND {store.column} IS NOT NULL AND NOT starts_with({store.column}, $2) "
                f"ORDER BY id LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED", last_id, prefix, batch_size)
            if not rows:
                return done
            ids, values, olds = [], [], []
            for row in rows:
                if not needs_reencrypt(keys, row["c"]):
                    continue  # (the query already excludes these; a guard against a format change)
                try:
                    plain = decrypt(keys, store.purpose, row["c"])
                except DecryptError:
                    bad.add(row["id"])  # its key is not configured: leave it exactly as it is
                    continue
                ids.append(row["id"])
                olds.append(row["c"])
                values.append(encrypt(keys, store.purpose, plain))
            if ids:
                # compare-and-set on the old value too: belt and braces on top of the row lock
                await conn.execute(
                    f"UPDATE {store.table} t SET {store.column} = v.new "
                    f"FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, new, old) "
                    f"WHERE t.id = v.id AND t.{store.column} = v.old",
                    ids, values, olds)
        last_id = rows[-1]["id"]
        done += len(ids)
        result.reencrypted[store.name] += len(ids)
        result.batches += 1
        if progress is not None:
            progress(store.name, result.reencrypted[store.name])


async def _remaining(conn: Any, store: Store, prefix: str) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM {store.table} WHERE {store.column} IS NOT NULL "
        f"AND NOT starts_with({store.column}, $1)", prefix))
