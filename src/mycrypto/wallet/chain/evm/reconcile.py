"""`mycrypto chain reconcile`: the node's balances against the ledger's custody accounts, per asset.

Custody in the ledger is what came in minus what went out: -(chain_in + chain_out) for the asset
(deposits and booked remainders come in through chain_in; withdrawals and network fees go out through
chain_out). On chain it is the sum of the hot wallet, the cold address and every deposit address.

Both are read at one block B, the watcher's cursor (every transfer up to B is known to us), the
ledger from one REPEATABLE READ snapshot. What legitimately differs at that instant is accounted for:
- incoming transfers up to B not yet credited or booked (waiting for confirmations);
- our own transactions whose ledger effect and chain effect are not both in: a withdrawal posted but
  not mined by B (still on chain), a network fee paid on chain but not posted yet (settles after its
  confirmations), a withdrawal mined but not posted yet (a crash between send and posting).
expected = custody + those; difference = on chain - expected. Any non-zero difference fails.

`book_surplus` is the operator's answer to a positive difference that is really ours (the hot
wallet's initial ETH for fees, coins sent to us by mistake): it posts at most the surplus from
chain_in to `fees` or `network_fees`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ....common.money import fmt
from ... import ledger
from ...domain.ledger import Leg, Posting
from .config import NATIVE_ASSET, NATIVE_DECIMALS
from .context import Context
from .sender import withdrawal_of
from .units import to_amount

ZERO = Decimal(0)


@dataclass
class AssetLine:
    asset: str
    hot: Decimal = ZERO
    cold: Decimal = ZERO
    deposit_addresses: Decimal = ZERO
    ledger_custody: Decimal = ZERO
    incoming_unbooked: Decimal = ZERO
    outgoing_in_flight: Decimal = ZERO

    @property
    def on_chain(self) -> Decimal:
        return self.hot + self.cold + self.deposit_addresses

    @property
    def expected(self) -> Decimal:
        return self.ledger_custody + self.incoming_unbooked + self.outgoing_in_flight

    @property
    def difference(self) -> Decimal:
        return self.on_chain - self.expected

    def as_dict(self) -> dict[str, str]:
        return {k: fmt(v) for k, v in (("hot", self.hot), ("cold", self.cold),
                                        ("deposit_addresses", self.deposit_addresses), ("on_chain", self.on_chain),
                                        ("ledger_custody", self.ledger_custody),
                                        ("incoming_unbooked", self.incoming_unbooked),
                                        ("outgoing_in_flight", self.outgoing_in_flight), ("expected", self.expected),
                                        ("difference", self.difference))}


@dataclass
class Reconciliation:
    chain: str
    block: int
    addresses: int
    lines: list[AssetLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.difference == 0 for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chain": self.chain, "block": self.block, "deposit_addresses": self.addresses,
                "assets": {line.asset: line.as_dict() for line in self.lines}}

    def render(self) -> str:
        out = [f"Chain reconciliation: {self.chain} at block {self.block} (hot, cold and {self.addresses} deposit "
               "address(es) vs the ledger's custody)", ""]
        for line in self.lines:
            d = line.as_dict()
            out.append(f"  {line.asset}")
            for key in ("hot", "cold", "deposit_addresses", "on_chain", "ledger_custody", "incoming_unbooked",
                        "outgoing_in_flight", "expected", "difference"):
                out.append(f"    {key:<20} {d[key]:>28}")
        out.append("")
        if self.ok:
            out.append("RESULT: OK - the chain matches the ledger.")
        else:
            bad = [f"{line.asset} {fmt(line.difference)}" for line in self.lines if line.difference != 0]
            out.append("RESULT: DIFFERENCE - " + ", ".join(bad) + " (on chain minus expected)")
        return "\n".join(out)


async def reconcile(ctx: Context) -> Reconciliation:
    await ctx.start()
    assets = list(ctx.cfg.assets)
    async with ctx.db.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            block = int(await conn.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2",
                                            ctx.name, ctx.chain) or 0)
            custody = {r["asset"]: -r["total"] for r in await conn.fetch(
                "SELECT asset, sum(available + locked) AS total FROM wallet.account "
                "WHERE kind IN ('chain_in', 'chain_out') AND asset = ANY($1::text[]) GROUP BY asset", assets)}
            incoming = {r["asset"]: r["total"] for r in await conn.fetch(
                "SELECT t.asset, sum(t.amount - coalesce(d.amount, 0) - t.booked_amount) AS total "
                "FROM evm.transfer t LEFT JOIN wallet.deposit d ON d.chain = t.chain AND d.txid = t.txid "
                "  AND d.vout = t.log_index AND d.status = 'credited' "
                "WHERE t.chain = $1 AND t.block_number <= $2 GROUP BY t.asset", ctx.chain, block)}
            txs = await conn.fetch(
                "SELECT t.*, w.posting_id AS w_posting, w.reversal_posting_id AS w_reversal FROM evm.tx t "
                "LEFT JOIN wallet.withdrawal w ON t.kind = 'withdrawal' AND t.reference = 'withdrawal-' || w.id "
                "WHERE t.chain = $1", ctx.chain)
            attempts = await conn.fetch(
                "SELECT a.tx_id, a.hash FROM evm.tx_attempt a JOIN evm.tx t ON t.id = a.tx_id "
                "WHERE t.chain = $1 AND t.status <> 'settled'", ctx.chain)
            addresses = [r["address"] for r in await conn.fetch(
                "SELECT address FROM evm.address WHERE chain = $1 ORDER BY hd_index", ctx.chain)]
    node = ctx.node
    hot = ctx.hot_address
    cold = ctx.cfg.cold_address
    receipts = await node.receipts(a["hash"] for a in attempts)
    by_tx: dict[int, Any] = {}
    for a in attempts:
        if receipts.get(a["hash"]) is not None:
            by_tx[a["tx_id"]] = receipts[a["hash"]]
    in_flight: dict[str, Decimal] = defaultdict(Decimal)
    for t in txs:
        ledger_out = t["amount"] if (withdrawal_of(t) is not None and t["w_posting"] is not None
                                     and t["w_reversal"] is None) else ZERO
        ledger_gas = t["gas_cost"] if t["gas_posting_id"] is not None else ZERO
        receipt = by_tx.get(t["id"])
        if t["status"] == "settled":
            mined = t["mined_block"] <= block
            success, gas_wei = t["success"], int(t["gas_used"]) * int(t["gas_price"])
        elif receipt is not None and receipt.block_number <= block:
            mined, success, gas_wei = True, receipt.success, receipt.gas_used * receipt.gas_price
        else:
            mined, success, gas_wei = False, False, 0
        chain_out = t["amount"] if (mined and success and t["kind"] == "withdrawal") else ZERO
        chain_gas = to_amount(gas_wei, NATIVE_DECIMALS) if mined else ZERO
        in_flight[t["asset"]] += ledger_out - chain_out
        in_flight[NATIVE_ASSET] += ledger_gas - chain_gas
    result = Reconciliation(ctx.chain, block, len(addresses))
    lower = [a.lower() for a in addresses]
    for asset in assets:
        line = AssetLine(asset, ledger_custody=custody.get(asset, ZERO), incoming_unbooked=incoming.get(asset, ZERO),
                         outgoing_in_flight=in_flight.get(asset, ZERO))
        decimals = ctx.decimals[asset]
        contract = ctx.contract(asset)

        async def balances(owners: list[str], asset: str = asset, contract: str | None = contract) -> list[int]:
            if not owners:
                return []
            if asset == NATIVE_ASSET:
                return await node.balances(owners, block)
            return await node.token_balances(contract, owners, block)  # type: ignore[arg-type]

        if hot:
            line.hot = to_amount((await balances([hot]))[0], decimals)
        if cold:
            line.cold = to_amount((await balances([cold]))[0], decimals)
        line.deposit_addresses = to_amount(sum(await balances(lower)), decimals)
        result.lines.append(line)
    return result


class SurplusRefused(Exception):
    pass


async def book_surplus(ctx: Context, asset: str, amount: Decimal, account: str, memo: str) -> int:
    """Post `amount` of on-chain surplus chain_in -> `account` (fees / network_fees); returns the posting id."""
    if account not in ("fees", "network_fees"):
        raise SurplusRefused("the surplus goes to fees or network_fees")
    report = await reconcile(ctx)
    line = next((x for x in report.lines if x.asset == asset), None)
    if line is None:
        raise SurplusRefused(f"{asset} is not on this chain")
    if not 0 < amount <= line.difference:
        raise SurplusRefused(f"the {asset} surplus on chain is {fmt(line.difference)}: refusing to book {fmt(amount)}")
    async with ctx.db.unit_of_work() as uow:
        system = await ledger.system_accounts(uow.conn)
        [posting_id] = await ledger.apply_changes(uow.conn, [Posting(
            "adjustment", "chain_surplus", f"{report.chain}:{report.block}:{fmt(amount)}", (
                Leg(system[(account, asset)], asset, amount), Leg(system[("chain_in", asset)], asset, -amount)),
            memo=memo[:500])])
        await uow.commit()
    return posting_id
