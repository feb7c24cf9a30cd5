"""`scripts/evm-devnet`: a local EVM node for trying real-chain custody by hand (docs/wallet.md "Local node").

    scripts/evm-devnet start            ganache on 127.0.0.1:8545 (chain kept in var/evm-devnet), test USDT
                                        deployed, fresh encrypted keys; prints the settings for .env; runs
                                        until Ctrl-C
    scripts/evm-devnet send ADDRESS AMOUNT ETH|USDT    an outside wallet pays ADDRESS (one block)
    scripts/evm-devnet mine [N]         N more blocks (confirmations)

Development only: the node's accounts are ganache's publicly known deterministic ones.
"""
from __future__ import annotations

import json
import signal
import sys
from decimal import Decimal

from mycrypto.config import load_settings
from mycrypto.wallet.chain.evm import generate_keys
from tests.support.evm.chain import DevChain
from tests.support.evm.contracts import compile_test_usdt
from tests.support.evm.fixtures import USDT_SUPPLY
from tests.support.evm.node import ROOT, DevNode

STATE = ROOT / "var" / "evm-devnet"
PORT = 8545


def _node() -> DevNode:
    return DevNode("ganache", db_path=STATE / "chain", port=PORT)


def _saved() -> dict[str, str]:
    path = STATE / "devnet.json"
    return json.loads(path.read_text()) if path.exists() else {}


def start() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    node = _node().start()
    chain = DevChain(node)
    saved = _saved()
    if "token" not in saved or chain.rpc("eth_getCode", saved["token"], "latest") in ("0x", None):
        saved["token"] = chain.deploy_token(compile_test_usdt(), USDT_SUPPLY)
        settings = load_settings()
        saved.update(generate_keys(settings.data_keys))
        (STATE / "devnet.json").write_text(json.dumps(saved, indent=2))
    print("# add to .env (keys are encrypted with this DATA_ENCRYPTION_KEY), then ./scripts/up:")
    print(f"CHAIN_ETH_RPC_URL={node.url}\nCHAIN_ETH_CHAIN_ID={node.chain_id}\nCHAIN_ETH_TOKENS=USDT={saved['token']}:6")
    for name in ("CHAIN_ETH_HOT_KEY", "CHAIN_ETH_DEPOSIT_SEED", "CHAIN_ETH_DEPOSIT_XPUB"):
        print(f"{name}={saved[name]}")
    print(f"# hot wallet {saved['hot_address']}: fund it for gas with `scripts/evm-devnet send {saved['hot_address']} "
          "1 ETH`, then `mycrypto chain book-surplus ETH 1 --to network_fees --memo 'gas'`", flush=True)
    print(f"# node running on {node.url} (chain in {STATE}); Ctrl-C stops it", flush=True)
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # so that sigwait receives them (and we stop the node)
    try:
        signal.sigwait(stop)
    finally:
        node.stop()


def _running() -> DevChain:
    node = _node()
    return DevChain(node)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "start"
    if command == "start":
        start()
    elif command == "send" and len(argv) == 4:
        chain, (address, amount, asset) = _running(), argv[1:]
        if asset.upper() == "ETH":
            tx = chain.send_eth(address, amount, chain.accounts[1])
        else:
            tx = chain.send_token(_saved()["token"], address, int(Decimal(amount) * 10**6), chain.accounts[0])
        print(tx)
    elif command == "mine":
        _running().mine(int(argv[1]) if len(argv) > 1 else 1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])

