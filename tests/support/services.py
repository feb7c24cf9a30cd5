"""Real Redis / RabbitMQ / SMTP for tests. Missing services skip locally but FAIL in CI (CI=true)."""
from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> str:
    """Return `url` if the service answers; otherwise skip (laptop) or fail (CI: a skip is not a pass)."""
    if reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if in_ci():
        pytest.fail(message + " (CI=true: required services must be running)")
    pytest.skip(message)
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
