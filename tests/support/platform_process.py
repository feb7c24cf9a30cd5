"""The platform as operators run it, in a child process: `mycrypto serve <service>` on a free loopback port.

Fault drills need real processes (a SIGKILL must kill the service, not a thread of the test), so this
starts `python -m mycrypto.cli serve ...` with an explicit environment (the test's DATABASE_URL /
REDIS_URL / AMQP_URL never leak in), writes its log to a file the failure message quotes, and can
`kill()` (SIGKILL), `stop()` (SIGTERM, graceful) or `restart()` it on the same port.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
MYCRYPTO = [sys.executable, "-m", "mycrypto.cli"]
# variables of the test environment that must not reach a drill's processes
_SCRUB = ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL", "TEST_DATABASE_URL", "TRADE_MARKETS",
          "METRICS_PORT", "MYCRYPTO_PORT", "MYCRYPTO_HOST")


def platform_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update({"DATABASE_URL": database_url, "MYCRYPTO_ENV": "test", "LOG_LEVEL": "WARNING", "LOG_JSON": "false",
                "DB_POOL_MIN": "1", "DB_POOL_MAX": "10", "PYTHONUNBUFFERED": "1",
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One `mycrypto ...` command (e.g. `verify`, `migrate`) with the drill's environment."""
    return subprocess.run(MYCRYPTO + list(args), env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class PlatformProcess:
    def __init__(self, service: str, env: dict[str, str], *, migrate: bool = False, port: int | None = None,
                 name: str | None = None) -> None:
        self.service = service
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name or service
        self.env = {**env, "MYCRYPTO_PORT": str(self.port), "TRADE_ADVERTISE_URL": self.url}
        self.migrate = migrate
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"mycrypto-drill-{self.name}-", suffix=".log")[1])
        self.starts = 0

    def start(self, timeout: float = 90) -> PlatformProcess:
        args = ["serve", self.service, "--port", str(self.port)] + (["--migrate"] if self.migrate and not self.starts
                                                                     else [])
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"\n===== start #{self.starts}: mycrypto {' '.join(args)}\n")
        log.flush()
        self.proc = subprocess.Popen(MYCRYPTO + args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 90) -> float:
        """Seconds until /health/ready answers 200 (raises with the log's tail if it never does)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (no lock released, no connection closed politely)."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)   # type: ignore[union-attr]
            self.proc.wait(timeout=30)              # type: ignore[union-attr]

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)   # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=timeout)     # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, timeout: float = 90) -> PlatformProcess:
        self.kill()
        return self.start(timeout)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-chars:]
        except OSError:
            return "(no log)"

    def unhandled(self, limit: int = 3) -> list[str]:
        """The first tracebacks the process logged as "unhandled error" (the cause of a 500)."""
        try:
            text = self.log_path.read_text()
        except OSError:
            return []
        out, at = [], 0
        while len(out) < limit and (at := text.find("unhandled error", at)) >= 0:
            end = text.find("\n20", at + 1)   # the next log line starts with the year
            out.append(text[at:end if end > 0 else at + 4000][-1500:])
            at += 1
        return out

    def close(self) -> None:
        self.stop()
        try:
            self.log_path.unlink()
        except OSError:
            pass
