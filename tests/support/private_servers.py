"""Private PostgreSQL and Redis servers for fault drills: started, stopped, killed and restarted for real.

The machine's PostgreSQL (5432) and Redis (6379) are shared by everything else, so a drill never touches
them: it starts its own cluster (`initdb` + `pg_ctl` from the PostgreSQL installation, on a free
127.0.0.1 port, in a temporary directory) and its own `redis-server --port <free> --save ''`, and
breaks those. PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres`
user and its commands run through `runuser`. A missing binary skips the drill on a laptop and FAILS it
in CI (`require_binaries`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.services import free_port, in_ci

PG_BIN_CANDIDATES = [Path(os.environ["PG_BIN_DIR"])] if os.environ.get("PG_BIN_DIR") else []
PG_BIN_CANDIDATES += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin_dir() -> Path | None:
    for candidate in PG_BIN_CANDIDATES:
        if (candidate / "pg_ctl").is_file() and (candidate / "initdb").is_file():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def missing_binaries(redis: bool = False) -> list[str]:
    missing = [] if pg_bin_dir() is not None else ["initdb/pg_ctl (PostgreSQL server binaries)"]
    if redis and shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (to run PostgreSQL as the postgres user under root)")
    return missing


def require_binaries(redis: bool = False) -> None:
    """Skip (laptop) or fail (CI=true: a skipped drill is not a passed drill) when a server binary is missing."""
    missing = missing_binaries(redis)
    if not missing:
        return
    message = "fault drill needs " + ", ".join(missing)
    if in_ci():
        pytest.fail(message + " (CI=true)")
    pytest.skip(message)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_port(port: int, up: bool, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not {'open' if up else 'close'} port {port} within {timeout:.0f}s")
        time.sleep(0.05)


class PrivatePostgres:
    """One throw-away cluster: `start()`, `stop()` (fast shutdown), `kill()` (SIGKILL of the postmaster:
    a crash, recovered from WAL on the next start), `restart()`; `dsn(db)` names a database in it."""

    def __init__(self) -> None:
        bindir = pg_bin_dir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl)")
        self.bin = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mycrypto-drill-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:   # the temp dir is root's (0700); the server runs as postgres
            shutil.chown(self.dir, "postgres", "postgres")
        self._initdb()

    def _run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}\n"
                               f"{self.log.read_text()[-2000:] if self.log.exists() else ''}")
        return done

    def _initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            # loopback only, small, fast to stop and start; fsync stays ON: a crash drill must not lose
            # commits the server acknowledged
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                       "max_connections = 100\nshared_buffers = 32MB\nsynchronous_commit = on\n"
                       "fsync = on\nfull_page_writes = on\nlogging_collector = off\n")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        wait_port(self.port, True, 30, "private PostgreSQL")

    def stop(self) -> None:
        """Fast shutdown: active sessions are terminated (what an operator's restart does)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)
        wait_port(self.port, False, 30, "private PostgreSQL")

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (a crash of the machine's database): nothing is shut
        down cleanly; the next start recovers from the WAL."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for victim in [pid, *map(int, children)]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_port(self.port, False, 30, "private PostgreSQL")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> str:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c",
                  f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def close(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A throw-away redis-server on a free loopback port, no persistence: `start`, `kill`, `pause`
    (SIGSTOP: a hung server that accepts connections and answers nothing), `resume`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, True, 20, "private Redis")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)   # a paused server must still die
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        wait_port(self.port, False, 10, "private Redis")

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.kill()
