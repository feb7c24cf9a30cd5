"""deploy/: the Dockerfile and docker-compose.yml follow the rules (checked statically: no Docker engine here).

The images are NOT built on the project's machines (no Docker daemon); these tests hold the files to
the rules the issue sets: multi-stage, non-root, pinned base, no build tools in the final image, a
healthcheck, one image for every service; the compose file runs the whole stack with healthchecks and
ordered start-up, and carries no secret values.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from mycrypto.cli import main

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SERVICES = ("auth", "wallet", "trade", "frontend", "notifier")


def _stages(text: str) -> list[list[str]]:
    """Dockerfile instructions (continuations joined, comments dropped), split into build stages."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += (" " if current else "") + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_pinned_with_a_healthcheck():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = _stages(text)
    assert len(stages) >= 2, "multi-stage build expected"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M).group(1)
    # an exact version tag (x.y.z) or a digest, never a floating tag
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    for stage in stages:
        assert "latest" not in stage[0]
    final = stages[-1]
    final_text = "\n".join(final)
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the final stage must run as a non-root user"
    assert any(line.upper().startswith("HEALTHCHECK ") and "/health/live" in line for line in final)
    for tool in ("build-essential", "gcc", "g++", "make ", "python3-dev", "libpq-dev"):
        assert tool not in final_text, f"build tool {tool!r} in the final image"
    assert "COPY --from=build /opt/venv" in final_text, "the final stage takes the built venv, not the sources"
    assert 'ENTRYPOINT ["mycrypto"]' in final_text
    assert (DEPLOY / "Dockerfile.dockerignore").is_file()


def test_every_service_command_of_the_image_exists():
    runner = CliRunner()
    for service in SERVICES:
        result = runner.invoke(main, ["serve", service, "--help"])
        assert result.exit_code == 0, result.output
    for command in (["migrate", "--help"], ["maintenance", "--help"], ["integrity", "--help"], ["backup", "--help"]):
        assert runner.invoke(main, command).exit_code == 0, command


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_the_full_stack_with_healthchecks_and_ordered_start():
    services = _compose()["services"]
    infra = {"postgres", "redis", "rabbitmq", "mailpit"}
    assert infra | set(SERVICES) | {"migrate", "edge"} == set(services)
    for name in infra | set(SERVICES) | {"edge"}:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for name in SERVICES:
        svc = services[name]
        assert svc["command"] == ["serve", name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        deps = svc["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["rabbitmq"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    assert services["notifier"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert all(services["edge"]["depends_on"][s]["condition"] == "service_healthy"
               for s in ("auth", "wallet", "trade", "frontend"))
    env = services["auth"]["environment"]
    assert env["SMTP_URL"].startswith("smtp://mailpit:") and env["AMQP_URL"].startswith("amqp://")
    assert env["REDIS_URL"].startswith("redis://redis:") and "@postgres:5432/" in env["DATABASE_URL"]


def test_compose_carries_no_secret_values():
    text = (DEPLOY / "docker-compose.yml").read_text()
    services = _compose()["services"]
    for key in ("JWT_SECRET", "DATA_ENCRYPTION_KEY"):
        value = services["auth"]["environment"][key]
        assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", value), f"{key} must be required, not defaulted: {value}"
    assert "${POSTGRES_PASSWORD:?" in text and "${RABBITMQ_PASSWORD:?" in text
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_edge_routes_like_the_ingress_and_hides_metrics():
    conf = (DEPLOY / "compose" / "nginx.conf").read_text()
    for prefix in ("/api/v1/auth/", "/api/v1/wallet/", "/api/v1/trade/", "/api/v1/orderbook/", "/api/v3/"):
        assert f"location {prefix}" in conf
    assert re.search(r"location = /metrics\s+\{ return 404; \}", conf)
