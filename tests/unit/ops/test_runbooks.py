"""The runbooks name only things that exist: every `mycrypto ...` command (its --help works and its
--options are real), every file path, every alert's runbook section; the API docs are up to date."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from mycrypto.apps import openapi_document
from mycrypto.cli import main
from mycrypto.config import Settings
from mycrypto.ops.apidocs import render_files

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "docs" / "runbooks"
NAMES = ("DEPLOYMENT_RUNBOOK.md", "ROLLBACK_RUNBOOK.md", "INCIDENT_RESPONSE.md", "OPERATIONS_GUIDE.md",
         "TROUBLESHOOTING_GUIDE.md")
DOCS = [RUNBOOKS / n for n in NAMES] + [ROOT / "docs" / "operations.md"]
# `deploy/trade` in `kubectl exec deploy/trade` is a Deployment, not a file
KUBECTL_RESOURCES = [["deploy", name] for name in ("auth", "wallet", "trade", "frontend", "notifier")]
CREATED_BY_OPERATOR = {"deploy/.env"}   # from deploy/compose.env.example, git-ignored
PATH_RE = re.compile(r"(?<![\w/.-])((?:deploy|docs|scripts|src|tests|bench)/[\w./-]*[\w/])")


def _command_lines(text: str) -> list[str]:
    """`mycrypto ...` invocations in code blocks and inline code (after `--` of kubectl exec, after VAR=...)."""
    found = []
    chunks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
    for chunk in chunks:
        for line in chunk.splitlines():
            # at the start of a command: line start (after VAR=value prefixes), after `kubectl exec ... --`
            for match in re.finditer(r"(?:^\s*(?:[A-Z_]+=\S+\s+)*|\s--\s+)(?:\.venv/bin/)?mycrypto\s+([^|;&>`]*)",
                                     line):
                found.append(match.group(1).strip())
    return found


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = main
    path = []
    for arg in args:
        if isinstance(command, click.Group) and arg in command.commands:
            command = command.commands[arg]
            path.append(arg)
        elif isinstance(command, click.Group) and path[:1] == ["smoke"] and not arg.startswith("-"):
            command = command.commands["run"]   # `mycrypto smoke URL` is `mycrypto smoke run URL`
            path.append("run")
        else:
            break
    return command, path


def test_every_runbook_exists_with_content():
    for name in NAMES:
        assert len((RUNBOOKS / name).read_text()) > 1500, name


def test_every_mycrypto_command_in_the_runbooks_exists_with_its_options():
    runner = CliRunner()
    seen = set()
    for doc in DOCS:
        for raw in _command_lines(doc.read_text()):
            try:
                args = shlex.split(raw)
            except ValueError:
                args = raw.split()
            if not args or args[0].startswith(("...", "<", "$", "[")) or args[0] in ("command", "is", "exists"):
                continue
            command, path = _resolve(args)
            assert path, f"{doc.name}: `mycrypto {raw}` names no mycrypto command"
            result = runner.invoke(main, [*path, "--help"])
            assert result.exit_code == 0, f"{doc.name}: `mycrypto {' '.join(path)} --help` failed: {result.output}"
            options = {opt for param in command.params for opt in getattr(param, "opts", [])}
            options |= {"--help", "-h"}
            for arg in args[len(path):]:
                if arg.startswith("--"):
                    name = arg.split("=", 1)[0]
                    assert name in options, f"{doc.name}: `mycrypto {' '.join(path)}` has no option {name}"
            seen.add(" ".join(path))
    for needed in ("backup", "backup verify", "backup check", "restore", "integrity", "smoke run", "smoke provision",
                   "migrate", "maintenance", "verify", "market halt"):
        assert needed in seen, f"the runbooks never use `mycrypto {needed}`"


def test_every_file_path_in_the_runbooks_exists():
    missing = []
    for doc in DOCS:
        for path in PATH_RE.findall(doc.read_text()):
            path = path.split("#")[0].rstrip(".")
            if "<" in path or "$" in path or path.split("/")[:2] in KUBECTL_RESOURCES or path in CREATED_BY_OPERATOR:
                continue
            if not (ROOT / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert not missing, missing


def test_every_alert_links_to_an_existing_runbook_section():
    text = (RUNBOOKS / "INCIDENT_RESPONSE.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
    rules = [r for g in yaml.safe_load((ROOT / "deploy/monitoring/alerts.yml").read_text())["groups"]
             for r in g["rules"]]
    for rule in rules:
        file, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (ROOT / file).is_file() and anchor in anchors, rule["alert"]


def test_the_checklists_wrong_commands_are_corrected_not_repeated():
    text = "\n".join(d.read_text() for d in DOCS)
    for wrong in ("get all -A --export", "trafficPolicy\": \"Canary"):
        assert wrong not in text
    rollback = (RUNBOOKS / "ROLLBACK_RUNBOOK.md").read_text()
    assert "pg_restore" in rollback and "mycrypto restore" in rollback and "plain-SQL" in rollback
    assert "--export" in (RUNBOOKS / "DEPLOYMENT_RUNBOOK.md").read_text()   # explained, not used


def test_api_docs_are_generated_from_the_current_openapi_document():
    settings = Settings(_env_file=None, database_url="postgresql://u:p@localhost/db")  # type: ignore[call-arg]
    files = render_files(openapi_document(settings))
    for name, text in files.items():
        path = ROOT / "docs" / "api" / name
        assert path.is_file() and path.read_text() == text, f"docs/api/{name} is stale: run `mycrypto apidocs`"
