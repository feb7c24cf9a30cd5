"""A real EVM development node for tests, the benchmark and `scripts/evm-devnet`: ganache 7.9 (default) or
hardhat's node, installed from the npm registry into tests/.node/<kind> (git-ignored, never committed)
and started on a free loopback port.

ganache is the default. Hardhat is used where ganache is wrong: ganache 7.9 mines BOTH a transaction
and its fee replacement (same sender and nonce; ganache issue #3794), so the stuck-transaction test
runs on hardhat. Hardhat keeps no chain on disk, so the node-restart test runs on ganache with
--database.dbPath.

Without node/npm the tests skip on a laptop and FAIL in CI (CI=true), like every required service.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.services import free_port, in_ci

ROOT = Path(__file__).resolve().parents[3]
NODE_DIR = Path(os.environ.get("EVM_NODE_DIR", ROOT / "tests" / ".node"))
PACKAGES = {
    "ganache": ["ganache@7.9.2", "solc@0.8.26", "@openzeppelin/contracts@5.0.2"],
    "hardhat": ["hardhat@2.22.19"],
}
BINARIES = {"ganache": "ganache", "hardhat": "hardhat"}
CHAIN_IDS = {"ganache": 1337, "hardhat": 31337}
# The deterministic wallets' mnemonics (accounts m/44'/60'/0'/0/i, each funded with 1000 / 10000 ETH)
MNEMONICS = {"ganache": "myth like bonus scare over problem client lizard pioneer submit female collect",
             "hardhat": "test test test test test test test test test test test junk"}


class NodeUnavailable(RuntimeError):
    pass


def require_node_tools() -> None:
    """node and npm on PATH, else skip (laptop) / fail (CI)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed: the EVM node tests need Node.js from the machine"
        if in_ci():
            pytest.fail(message + " (CI=true: required)")
        pytest.skip(message)


def install(kind: str = "ganache") -> Path:
    """npm install the node (once; later calls reuse it). Returns its folder."""
    target = NODE_DIR / kind
    binary = target / "node_modules" / ".bin" / BINARIES[kind]
    if binary.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".install.lock", "w") as lock:  # two processes installing at once would clash
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            if not (target / "package.json").exists():
                (target / "package.json").write_text('{"name": "mycrypto-test-evm-node", "private": true}\n')
            result = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES[kind]],
                cwd=target, capture_output=True, text=True, timeout=600)
            if result.returncode != 0 or not binary.exists():
                raise NodeUnavailable(f"npm install {' '.join(PACKAGES[kind])} failed:\n{result.stderr[-2000:]}")
    if kind == "hardhat":
        (target / "hardhat.config.js").write_text(
            "module.exports = { networks: { hardhat: { chainId: 31337, mining: { auto: true } } } };\n")
    return target


class DevNode:
    """One node process on 127.0.0.1:<free port>."""

    def __init__(self, kind: str = "ganache", db_path: Path | None = None, port: int | None = None) -> None:
        self.kind = kind
        self.db_path = db_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_id = CHAIN_IDS[kind]
        self.mnemonic = MNEMONICS[kind]
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self, timeout: float = 60) -> DevNode:
        folder = install(self.kind)
        binary = str(folder / "node_modules" / ".bin" / BINARIES[self.kind])
        if self.kind == "ganache":
            args = [binary, "--server.host", "127.0.0.1", "--server.port", str(self.port), "--wallet.deterministic",
                    "--chain.chainId", str(self.chain_id), "--logging.quiet"]
            if self.db_path is not None:
                args += ["--database.dbPath", str(self.db_path)]
        else:
            args = [binary, "node", "--hostname", "127.0.0.1", "--port", str(self.port)]
        self.log_path = folder / f"node-{self.port}.log"
        env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "DO_NOT_TRACK": "1"}
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeUnavailable(f"{self.kind} exited: {self.log_path.read_text()[-2000:]}")
            try:
                answer = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                                    timeout=2).json()
                if int(answer["result"], 16) == self.chain_id:
                    return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        self.stop()
        raise NodeUnavailable(f"{self.kind} did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: node and any child it started
            try:  # a node keeping its chain on disk gets time to close it; a throw-away one does not
                self.proc.wait(timeout=20 if self.db_path is not None else 3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None


def start_node(kind: str = "ganache", **kwargs: object) -> DevNode:
    """Start a node for a fixture: skip/fail per the CI rule when Node.js is missing."""
    require_node_tools()
    try:
        return DevNode(kind, **kwargs).start()  # type: ignore[arg-type]
    except NodeUnavailable as exc:
        pytest.fail(f"the {kind} EVM node could not be started: {exc}")
        raise
