"""A private RabbitMQ node for tests that restart the broker for real.

The machine's RabbitMQ (5672) is shared, so tests never restart it. This starts a second node of the
same installation (`mctest@localhost`, AMQP on a free port, its own data directory) as the `rabbitmq`
user, and restarts its broker with `rabbitmqctl stop_app` / `start_app`: every connection drops, the
port refuses connections, and durable queues and persistent messages are recovered from disk - what
an operator's broker restart does. Needs the Debian rabbitmq-server package and root (to run as
`rabbitmq`); otherwise the test is skipped, and fails under CI=true.
"""
from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.services import free_port, in_ci

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
RABBIT_HOME = "/var/lib/rabbitmq"   # the package's home: the Erlang cookie rabbitmqctl needs
NODE = "mctest@localhost"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivateRabbitMQ:
    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()   # Erlang distribution (how rabbitmqctl reaches the node)
        self.dir = Path(tempfile.mkdtemp(prefix="mycrypto-rmq-"))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _as_rabbitmq(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = (f"HOME={RABBIT_HOME} RABBITMQ_NODENAME={NODE} RABBITMQ_DIST_PORT={self.dist_port} "
               f"RABBITMQ_CONFIG_FILE={self.dir}/rabbitmq.conf RABBITMQ_MNESIA_BASE={self.dir}/mnesia "
               f"RABBITMQ_LOG_BASE={self.dir}/log RABBITMQ_ENABLED_PLUGINS_FILE={self.dir}/enabled_plugins "
               f"RABBITMQ_PID_FILE={self.dir}/pid ERL_EPMD_ADDRESS=127.0.0.1")
        return subprocess.run(["su", "rabbitmq", "-s", "/bin/sh", "-c", f"cd {RABBIT_HOME}; {env} {command}"],
                              capture_output=True, text=True, timeout=timeout)

    def _ctl(self, *args: str) -> None:
        done = self._as_rabbitmq(f"{RABBIT_BIN}/rabbitmqctl -n {NODE} " + " ".join(map(shlex.quote, args)))
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")

    def _wait(self, up: bool, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while _port_open(self.port) != up:
            if time.monotonic() > deadline:
                raise TimeoutError(f"private RabbitMQ did not {'open' if up else 'close'} port {self.port}")
            time.sleep(0.2)

    def start(self) -> PrivateRabbitMQ:
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        shutil.chown(self.dir, "rabbitmq", "rabbitmq")
        for path in self.dir.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self._ctl_quiet_stop()   # a node left over by an interrupted run
        started = self._as_rabbitmq(f"{RABBIT_BIN}/rabbitmq-server -detached")
        if started.returncode != 0:
            raise RuntimeError(f"private RabbitMQ did not start: {started.stderr or started.stdout}")
        self._wait(up=True)
        return self

    def restart_broker(self, down_seconds: float = 0.0) -> None:
        """Stop the broker application (connections drop, port closed), optionally stay down, start it."""
        self.stop_broker()
        time.sleep(down_seconds)
        self.start_broker()

    def stop_broker(self) -> None:
        self._ctl("stop_app")
        self._wait(up=False)

    def start_broker(self) -> None:
        self._ctl("start_app")
        self._wait(up=True)

    def _ctl_quiet_stop(self) -> None:
        self._as_rabbitmq(f"{RABBIT_BIN}/rabbitmqctl -n {NODE} stop", timeout=60)

    def close(self) -> None:
        self._ctl_quiet_stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def private_rabbitmq_available() -> str | None:
    """None when a private node can be started here, else why not."""
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        return "the rabbitmq-server package is not installed"
    if os.geteuid() != 0:
        return "starting a private RabbitMQ node needs root (to run it as the rabbitmq user)"
    return None


@pytest.fixture
def private_rabbitmq():
    why_not = private_rabbitmq_available()
    if why_not is not None:
        if in_ci():
            pytest.fail(why_not + " (CI=true: required services must be available)")
        pytest.skip(why_not)
    node = PrivateRabbitMQ().start()
    try:
        yield node
    finally:
        node.close()
