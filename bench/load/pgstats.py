"""A private PostgreSQL server for load runs, with statement statistics switched on.

Query timing needs `pg_stat_statements` loaded at server start (shared_preload_libraries), which
neither the embedded server (the `pgserver` wheel ships no pg_stat_statements) nor this machine's
shared server (nothing preloaded; restarting it would disturb everyone using it) have. So a load run
starts its own throw-away cluster from the machine's PostgreSQL binaries (Debian's
postgresql-15 ships the extension) with:

    shared_preload_libraries = pg_stat_statements   mean / stddev / max per statement
    compute_query_id = on                           a query id in every log line (%Q)
    log_min_duration_sample = 0                     log the duration of a random sample of
    log_statement_sample_rate = SAMPLE_RATE         statements, with their query id: the p95

fsync and synchronous_commit stay on (durable commits, as in production). Runs as the `postgres`
system user when we are root (PostgreSQL refuses root). Stopped and deleted by `stop()`.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SAMPLE_RATE = 0.1
LOG_PREFIX = "%m [%p] qid=%Q db=%d "


def find_bindir() -> Path | None:
    """The newest machine PostgreSQL whose lib dir has pg_stat_statements (None: not installed)."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        lib = Path(bindir).parent / "lib"
        if (Path(bindir) / "initdb").exists() and (lib / "pg_stat_statements.so").exists():
            return Path(bindir)
    found = shutil.which("pg_config")
    if found:
        bindir = Path(subprocess.check_output([found, "--bindir"], text=True).strip())
        pkglib = Path(subprocess.check_output([found, "--pkglibdir"], text=True).strip())
        if (bindir / "initdb").exists() and (pkglib / "pg_stat_statements.so").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StatsPostgres:
    """initdb + start a private cluster on 127.0.0.1:<free port>; `dsn` is its postgres database."""

    def __init__(self, bindir: Path, sample_rate: float = SAMPLE_RATE) -> None:
        self.bindir = bindir
        self.sample_rate = sample_rate
        self.root = Path(tempfile.mkdtemp(prefix="mycrypto-loadpg-"))
        self.pgdata = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        full = (["runuser", "-u", "postgres", "--"] if self._as_postgres else []) + list(cmd)
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> StatsPostgres:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)
        self._run(str(self.bindir / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        options = {
            "listen_addresses": "127.0.0.1", "port": str(self.port), "unix_socket_directories": str(self.root),
            "max_connections": "200", "shared_preload_libraries": "pg_stat_statements",
            "compute_query_id": "on", "pg_stat_statements.track": "top", "pg_stat_statements.max": "5000",
            "log_min_duration_sample": "0", "log_statement_sample_rate": str(self.sample_rate),
            "log_line_prefix": LOG_PREFIX, "log_checkpoints": "off",
        }
        conf = self.pgdata / "postgresql.auto.conf"
        with open(conf, "a") as f:
            for k, v in options.items():
                f.write(f"{k} = '{v}'\n")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.logfile), "-w", "-t", "60",
                  "start")
        return self

    def log_offset(self) -> int:
        """Where the log ends now: samples are read from here after a run."""
        return self.logfile.stat().st_size if self.logfile.exists() else 0

    def read_log(self, offset: int = 0) -> str:
        with open(self.logfile, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        for _ in range(20):
            try:
                shutil.rmtree(self.root)
                return
            except OSError:
                time.sleep(0.2)
