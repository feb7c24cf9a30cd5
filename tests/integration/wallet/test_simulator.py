"""The chain simulator honours the `ChainAdapter` contract the watcher and processor rely on."""
from decimal import Decimal as D

import pytest

from mycrypto.wallet.chain import BroadcastRejected, ChainError
from mycrypto.wallet.chain.simulator import SimulatorChain


@pytest.fixture
def sim(db):
    return SimulatorChain(db)


async def test_addresses_transfers_cursor_and_confirmations(sim):
    mine = await sim.new_address("bitcoin", "BTC")
    other = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"  # not ours: never reported
    t1 = await sim.send("BTC", mine, D("0.5"))
    await sim.send("BTC", other, D("1"))
    page = await sim.incoming_transfers("bitcoin", None)
    assert [(t.txid, t.vout, t.amount, t.confirmations) for t in page.transfers] == [(t1.txid, 0, D("0.5"), 0)]
    assert (await sim.incoming_transfers("bitcoin", page.cursor)).transfers == []
    assert (await sim.incoming_transfers("ethereum", None)).transfers == []

    await sim.mine(1)
    assert await sim.confirmations("bitcoin", [t1.txid, "unknown"]) == {t1.txid: 1}
    await sim.mine(3, "bitcoin")
    assert await sim.confirmations("bitcoin", [t1.txid]) == {t1.txid: 4}
    t2 = await sim.send("BTC", mine, D("0.25"))
    assert await sim.confirmations("bitcoin", [t2.txid]) == {t2.txid: 0}  # mempool
    page2 = await sim.incoming_transfers("bitcoin", page.cursor)
    assert [t.txid for t in page2.transfers] == [t2.txid]


async def test_send_validates_asset_address_and_amount(sim):
    with pytest.raises(ChainError, match="unknown asset"):
        await sim.send("DOGE", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", D("1"))
    with pytest.raises(ChainError, match="not a valid"):
        await sim.send("ETH", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", D("1"))
    with pytest.raises(ChainError):
        await sim.send("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", D("0"))
    with pytest.raises(ChainError):
        await sim.mine(0)


async def test_broadcast_is_idempotent_on_reference_and_can_be_refused(sim):
    dest = "0x52908400098527886E0F7030069857D2E4169EE7"
    txid = await sim.broadcast("ethereum", "ETH", dest, D("1"), "withdrawal-1")
    assert await sim.broadcast("ethereum", "ETH", dest, D("1"), "withdrawal-1") == txid
    assert (await sim.status())[1]["transfers"] == 1
    await sim.refuse_broadcasts("ethereum", "node says no")
    with pytest.raises(BroadcastRejected, match="node says no"):
        await sim.broadcast("ethereum", "ETH", dest, D("1"), "withdrawal-2")
    # an earlier broadcast is still found (idempotency wins over the refusal)
    assert await sim.broadcast("ethereum", "ETH", dest, D("1"), "withdrawal-1") == txid
    await sim.refuse_broadcasts("ethereum", None)
    assert await sim.broadcast("ethereum", "ETH", dest, D("1"), "withdrawal-2") != txid


async def test_a_simulated_transfer_has_a_real_transfers_bound(sim, db):
    """Issue 11: the development deposit path credited 18446744073709551616 USDT. No simulated transfer
    may exceed what exists of the asset; nothing lands in the mempool when refused."""
    from mycrypto.wallet.chain.simulator import SimulatedTransferTooLarge, max_transfer

    address = await sim.new_address("ethereum", "USDT")
    for asset, amount in (("USDT", D(2**64)), ("USDT", max_transfer("USDT") + D("0.000001")),
                          ("BTC", D("21000000.00000001"))):
        to = address if asset == "USDT" else await sim.new_address("bitcoin", "BTC")
        with pytest.raises(SimulatedTransferTooLarge):
            await sim.send(asset, to, amount)
    assert await db.fetchval("SELECT count(*) FROM chainsim.transfer") == 0
    assert (await sim.send("USDT", address, max_transfer("USDT"))).amount == max_transfer("USDT")
