"""OWASP API8/supply chain: scripts/security-audit (pip-audit over the installed packages) is clean.

Where the advisory database cannot be reached (this project's CI machines resolve no outside host but
the package registries) the script says so and exits 2 - then this test checks that it said so instead
of calling an unaudited environment clean. A finding (exit 1) fails the test until it is fixed or
accepted in docs/SECURITY.md (scripts/security-audit's ignore list).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_security_audit_is_clean_or_says_it_could_not_audit() -> None:
    run = subprocess.run([str(ROOT / "scripts/security-audit")], capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode in (0, 2), out
    if run.returncode == 2:
        assert "nothing was audited" in out, out
    else:
        assert "0 findings" in out and " 0 packages audited" not in out, out
