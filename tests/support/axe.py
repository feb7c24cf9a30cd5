"""axe-core (Deque's accessibility engine) for the browser tests: installed from the npm registry into
tests/.node/axe (git-ignored, never committed; like the EVM node in tests/support/evm/node.py) and run
inside a page with Playwright's `evaluate`.

`evaluate` runs through the DevTools protocol, not as a page script, so the app's strict CSP
(`script-src 'self'`, no inline scripts) stays exactly as it is in production and nothing of axe is
served by the app. Without node/npm the tests skip on a laptop and FAIL in CI (CI=true).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[2]
AXE_DIR = Path(os.environ.get("AXE_NODE_DIR", ROOT / "tests" / ".node" / "axe"))
AXE_PACKAGE = "axe-core@4.10.3"
SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# What fails a test: axe's two worst impact levels (moderate/minor findings are reported, not failed).
FAILING = ("serious", "critical")
# WCAG 2.0/2.1/2.2 A and AA rules plus axe's best practices (landmarks, headings, regions).
RUN_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                                      "best-practice"]},
               "resultTypes": ["violations"]}


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message + " (CI=true: the accessibility audit is required)")
    pytest.skip(message)


@cache
def axe_source() -> str:
    """The axe-core script (installed once; later calls reuse it)."""
    if not SCRIPT.exists():
        if shutil.which("npm") is None:
            _unavailable("npm is not installed: the axe-core audit needs it to install axe-core")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        with open(AXE_DIR / ".install.lock", "w") as lock:   # parallel test processes install once
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not SCRIPT.exists():
                if not (AXE_DIR / "package.json").exists():
                    (AXE_DIR / "package.json").write_text('{"name": "mycrypto-test-axe", "private": true}\n')
                result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", AXE_PACKAGE],
                                        cwd=AXE_DIR, capture_output=True, text=True, timeout=300)
                if result.returncode != 0 or not SCRIPT.exists():
                    _unavailable(f"npm install {AXE_PACKAGE} failed:\n{result.stderr[-2000:]}")
    return SCRIPT.read_text()


async def run_axe(page: Any) -> list[dict]:
    """axe's violations on the page as it is now (every impact level)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_source() + "\n;0")
    return await page.evaluate("(options) => window.axe.run(document, options).then((r) => r.violations)", RUN_OPTIONS)


def serious(violations: list[dict]) -> list[str]:
    """One line per serious or critical violation: rule, impact, help and the offending nodes."""
    out = []
    for v in violations:
        if v.get("impact") in FAILING:
            nodes = "; ".join(" ".join(n.get("target", [])) + (f" ({n['failureSummary'].splitlines()[-1].strip()})"
                                                               if n.get("failureSummary") else "")
                              for n in v.get("nodes", [])[:5])
            out.append(f"{v['id']} [{v['impact']}] {v['help']}: {nodes}")
    return out
