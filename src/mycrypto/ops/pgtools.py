"""Finding and running PostgreSQL's own pg_dump / pg_restore for backups (ops/backup.py).

There may be several on a machine: the embedded `pgserver` package ships its own (PostgreSQL 16),
Debian installs them under /usr/lib/postgresql/<major>/bin (on PATH via a wrapper), and operators
can name a directory with PG_BIN_DIR. pg_dump must be at least as new as the server it dumps, and
pg_restore at least as new as the pg_dump that wrote the archive, so `pick()` asks each candidate
its version and takes the first that fits: PG_BIN_DIR, then a version equal to the one needed,
then the newest above it.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class ToolMissing(Exception):
    """No usable pg_dump/pg_restore; the message says what was looked for."""


@dataclass(frozen=True)
class Tool:
    path: str
    major: int
    version: str


def _version(path: str) -> Tool | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)(?:\.(\d+))?", out)
    if not found:
        return None
    return Tool(path, int(found.group(1)), out.strip().rsplit(" ", 1)[-1])


def _pgserver_bin() -> str | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).parent / "pginstall" / "bin")


def candidates(name: str, bin_dir: str | Path | None = None) -> list[Tool]:
    """Every `name` binary found, PG_BIN_DIR's first, without duplicates."""
    dirs: list[str] = []
    if bin_dir:
        dirs.append(str(bin_dir))
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    bundled = _pgserver_bin()
    if bundled:
        dirs.append(bundled)
    paths = [os.path.join(d, name) for d in dirs]
    on_path = shutil.which(name)
    if on_path:
        paths.append(on_path)
    seen, tools = set(), []
    for path in paths:
        real = os.path.realpath(path)
        if real in seen or not os.access(path, os.X_OK):
            continue
        seen.add(real)
        tool = _version(path)
        if tool is not None:
            tools.append(tool)
    return tools


def pick(name: str, at_least: int, prefer: int | None = None, bin_dir: str | Path | None = None) -> Tool:
    """The `name` tool to use: PG_BIN_DIR's if new enough, else major == prefer, else the newest >= at_least."""
    tools = candidates(name, bin_dir)
    if bin_dir:
        own = [t for t in tools if os.path.dirname(t.path) == str(bin_dir).rstrip("/")]
        if own and own[0].major >= at_least:
            return own[0]
    fitting = [t for t in tools if t.major >= at_least]
    if not fitting:
        found = ", ".join(f"{t.path} ({t.major})" for t in tools) or "none"
        raise ToolMissing(f"no {name} of PostgreSQL {at_least} or newer found (found: {found}); "
                          f"install the PostgreSQL client tools or set PG_BIN_DIR")
    for tool in fitting:
        if prefer is not None and tool.major == prefer:
            return tool
    return max(fitting, key=lambda t: t.major)


def run(args: list[str], timeout: float = 6 * 3600) -> subprocess.CompletedProcess:
    """Run a tool; raise RuntimeError with its stderr (last lines) when it fails."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"{os.path.basename(args[0])} failed (exit {done.returncode}): {tail}")
    return done
