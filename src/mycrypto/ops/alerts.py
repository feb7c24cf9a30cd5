"""Checking the Prometheus alert rules with Prometheus' own tool (promtool, Debian package `prometheus`).

`check_alert_rules(rules, tests=None)` runs `promtool check rules` (syntax, PromQL, templates) and,
when a unit-test file exists (alerts.test.yml beside the rules by default), `promtool test rules`
(each alert fires on the series it is meant for and stays quiet otherwise). A missing promtool is a
failed step, never a pass. Returns a `RulesCheck` for other tools (a go/no-go report).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RuleStep:
    name: str
    ok: bool
    detail: str


@dataclass
class RulesCheck:
    rules: str
    steps: list[RuleStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rules": self.rules, "steps": [asdict(s) for s in self.steps]}


def _promtool(args: list[str], cwd: Path) -> tuple[bool, str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)
    text = (done.stdout + done.stderr).strip()
    return done.returncode == 0, " ".join(text.split())[:2000]


def check_alert_rules(rules: str | Path, tests: str | Path | None = None, promtool: str | None = None) -> RulesCheck:
    path = Path(rules)
    result = RulesCheck(str(path))
    tool = promtool or shutil.which("promtool")
    if tool is None or not Path(tool).is_file():
        result.steps.append(RuleStep("promtool", False, "promtool not found (apt-get install prometheus)"))
        return result
    if not path.is_file():
        result.steps.append(RuleStep("rules", False, f"no rules file at {path}"))
        return result
    ok, text = _promtool([tool, "check", "rules", path.name], path.parent)
    result.steps.append(RuleStep("check_rules", ok, text))
    test_file = Path(tests) if tests else path.with_name(path.stem + ".test.yml")
    if tests or test_file.is_file():
        if not test_file.is_file():
            result.steps.append(RuleStep("test_rules", False, f"no test file at {test_file}"))
        else:
            ok, text = _promtool([tool, "test", "rules", test_file.name], test_file.parent)
            result.steps.append(RuleStep("test_rules", ok, text))
    return result
