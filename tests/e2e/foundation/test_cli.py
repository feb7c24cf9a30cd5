"""The `mycrypto` command as a user runs it: real processes, real PostgreSQL."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.services import free_port

MYCRYPTO = [sys.executable, "-m", "mycrypto.cli"]


def run_cli(*args, env=None, timeout=120):
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    full_env.update(env or {})
    return subprocess.run(MYCRYPTO + list(args), capture_output=True, text=True, env=full_env, timeout=timeout)


def test_migrate_status_and_rerun(db_dsn):
    env = {"DATABASE_URL": db_dsn}
    r = run_cli("migrate", "--status", env=env)
    assert r.returncode == 0, r.stderr
    assert "010-price-alerts-indicators" in r.stdout and "applied" in r.stdout
    r = run_cli("migrate", env=env)
    assert r.returncode == 0 and "up to date" in r.stdout


def test_db_report_and_maintenance(db_dsn):
    env = {"DATABASE_URL": db_dsn}
    r = run_cli("db", "report", "--json", env=env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert {"query_stats", "slow_queries", "table_sizes", "table_bloat", "index_usage"} <= set(report)
    r = run_cli("maintenance", env=env)
    assert r.returncode == 0 and "purge_expired_tokens" in r.stdout


@pytest.mark.parametrize("url, expected", [
    ("mysql://root@localhost/x", "DATABASE_URL"),
    ("postgresql://postgres@127.0.0.1:1/nothing", "cannot connect to PostgreSQL at 127.0.0.1:1/nothing"),
])
def test_bad_database_gives_one_clear_line(url, expected):
    r = run_cli("migrate", env={"DATABASE_URL": url})
    assert r.returncode != 0
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("service", ["auth", "all", "notifier"])
def test_serve_with_an_unreachable_database_gives_one_clear_line(service):
    r = run_cli("serve", service, "--port", str(free_port()),
                env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"})
    assert r.returncode == 1
    assert r.stderr.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1/nothing")
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stdout + r.stderr


def test_serve_one_service_answers_its_health_and_stops_on_ctrl_c(db_dsn):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL", "SMTP_URL")}
    env.update({"DATABASE_URL": db_dsn, "LOG_LEVEL": "WARNING"})
    proc = subprocess.Popen(MYCRYPTO + ["serve", "wallet", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        deadline = time.time() + 60
        while body is None and time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/wallet/health", timeout=2) as resp:
                    body = json.loads(resp.read())
            except OSError:
                time.sleep(0.3)
        assert body is not None, "mycrypto serve wallet did not answer"
        assert body["service"] == "wallet" and body["checks"]["database"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_up_on_a_port_in_use_says_so(db_dsn):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_cli("up", "--port", str(port), env={"DATABASE_URL": db_dsn})
    assert r.returncode != 0
    assert f"port {port}" in r.stderr and "already in use" in r.stderr


def test_production_with_default_secrets_refuses_to_start(db_dsn):
    r = run_cli("migrate", env={"DATABASE_URL": db_dsn, "MYCRYPTO_ENV": "production"})
    assert r.returncode == 2
    assert "JWT_SECRET" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_up_with_embedded_database_serves_health_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    pgdata = tmp_path / "pgdata"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    env.update({"MYCRYPTO_PGDATA": str(pgdata), "MYCRYPTO_PORT": str(port), "LOG_LEVEL": "WARNING"})
    proc = subprocess.Popen(MYCRYPTO + ["up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        body = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, "mycrypto up did not answer /health"
        assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out
    assert "stopped" in out
    # the embedded server is gone: its pid file is removed by a clean stop
    assert not (pgdata / "postmaster.pid").exists()


def _start_up(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    env.update({"MYCRYPTO_DATA_DIR": str(data_dir), "MYCRYPTO_PORT": str(port), "LOG_LEVEL": "WARNING"})
    proc = subprocess.Popen(MYCRYPTO + ["up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"mycrypto up did not answer /health: {proc.communicate(timeout=30)[0]}")


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def _gone(pid: int, within: float = 30) -> bool:
    deadline = time.time() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.time() >= deadline:
            return False
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_stops_its_embedded_postgres_on_a_signal(tmp_path: Path, sig):
    """Issue 11: after `mycrypto up` stopped on SIGTERM, the embedded PostgreSQL kept running (uvicorn
    re-raises the signal after its shutdown, which killed the process before it stopped the server)."""
    proc = _start_up(tmp_path, free_port())
    pg = _postmaster_pid(tmp_path)
    try:
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        assert proc.returncode == 0 and "stopped" in out, out
        assert _gone(pg), f"the embedded PostgreSQL (pid {pg}) outlived `mycrypto up` ({sig.name})"
    finally:
        if not _gone(pg, 0):
            os.kill(pg, signal.SIGTERM)


@pytest.mark.slow
def test_a_crashed_platforms_leftover_postgres_is_reused_then_stopped(tmp_path: Path):
    """A platform killed with SIGKILL leaves its PostgreSQL running (nothing can run in the process);
    the next `mycrypto up` reuses that server and stops it when it stops itself."""
    crashed = _start_up(tmp_path, free_port())
    pg = _postmaster_pid(tmp_path)
    crashed.kill()
    crashed.communicate(timeout=30)
    try:
        assert not _gone(pg, 1), "the leftover server should still be running after a SIGKILL"
        proc = _start_up(tmp_path, free_port())
        assert _postmaster_pid(tmp_path) == pg   # reused, not a second server on the same data
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, out
        assert _gone(pg), "the leftover PostgreSQL was not stopped with the platform that reused it"
        handles = json.loads((tmp_path / "pgdata" / ".handle_pids.json").read_text())
        assert handles == [], handles
    finally:
        if not _gone(pg, 0):
            os.kill(pg, signal.SIGTERM)
