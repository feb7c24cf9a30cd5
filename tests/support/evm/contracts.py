"""The test ERC-20 ("USDT", 6 decimals): compiled from contracts/TestUSDT.sol + OpenZeppelin (npm) with
solc-js (npm), cached under tests/.node/artifacts by the hash of its inputs, deployed by a fixture.

No bytecode is committed: it is produced here, from sources the npm registry serves.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

from tests.support.evm.node import NODE_DIR, install

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "contracts" / "TestUSDT.sol"
EVM_VERSION = "shanghai"  # ganache 7.9's newest hardfork (solc >= 0.8.25 defaults to cancun)
_IMPORT = re.compile(r'import\s+(?:\{[^}]*\}\s+from\s+)?"([^"]+)"')


def _sources(modules: Path) -> dict[str, str]:
    sources = {"TestUSDT.sol": SOURCE.read_text()}
    todo = ["TestUSDT.sol"]
    while todo:
        name = todo.pop()
        for imp in _IMPORT.findall(sources[name]):
            if imp.startswith("."):
                parts: list[str] = []
                for p in (PurePosixPath(name).parent / imp).parts:
                    if p == "..":
                        parts.pop()
                    elif p != ".":
                        parts.append(p)
                imp = "/".join(parts)
            if imp not in sources:
                sources[imp] = (modules / imp).read_text()
                todo.append(imp)
    return sources


def compile_test_usdt() -> dict[str, Any]:
    """{"abi": [...], "bytecode": "0x..."} of TestUSDT."""
    folder = install("ganache")
    modules = folder / "node_modules"
    standard_input = {
        "language": "Solidity",
        "sources": {k: {"content": v} for k, v in sorted(_sources(modules).items())},
        "settings": {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": EVM_VERSION,
                     "outputSelection": {"TestUSDT.sol": {"TestUSDT": ["abi", "evm.bytecode.object"]}}},
    }
    text = json.dumps(standard_input, sort_keys=True)
    cache = NODE_DIR / "artifacts" / f"TestUSDT-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    result = subprocess.run([str(modules / ".bin" / "solcjs"), "--standard-json"], input=text, capture_output=True,
                            text=True, timeout=300)
    output = json.loads(result.stdout[result.stdout.index("{"):])
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("solc failed:\n" + "\n".join(errors))
    contract = output["contracts"]["TestUSDT.sol"]["TestUSDT"]
    artifact = {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(artifact))
    return artifact
