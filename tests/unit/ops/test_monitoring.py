"""deploy/monitoring: alert rules pass `promtool check rules` and their unit tests; the dashboard and the
rules use only metrics the services export.

promtool comes from Debian's `prometheus` package (.ci/run installs it); in CI a missing promtool fails.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mycrypto.common import metrics  # noqa: F401 - registers every metric family
from mycrypto.ops.alerts import check_alert_rules
from prometheus_client import REGISTRY
from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "monitoring"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
# series Prometheus itself adds, or the client library's process collector exports
EXTERNAL = {"up"}
PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "max", "min", "count", "topk", "or", "and", "time",
                "vector", "without", "le", "service", "status", "route", "code", "market", "phase", "state",
                "instance", "job", "stream", "first", "value", "query", "with", "end", "humanizeDuration",
                "humanizePercentage", "labels", "bool", "on", "ignoring", "unless", "avg", "irate", "increase"}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if in_ci():
            pytest.fail("promtool is required in CI (apt-get install prometheus; .ci/run does it)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def test_alert_rules_pass_promtool_check_and_unit_tests():
    _promtool()
    result = check_alert_rules(MONITORING / "alerts.yml")
    assert [s.name for s in result.steps] == ["check_rules", "test_rules"]
    assert result.ok, result.as_dict()


def test_a_broken_rule_fails_the_check(tmp_path):
    _promtool()
    bad = tmp_path / "alerts.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) > \n")
    result = check_alert_rules(bad)
    assert not result.ok and result.steps[0].name == "check_rules"
    assert not check_alert_rules(tmp_path / "missing.yml").ok
    no_tool = check_alert_rules(MONITORING / "alerts.yml", promtool="/nonexistent/promtool")
    assert not no_tool.ok and no_tool.steps[0].name == "promtool", "a missing promtool is a failure, never a pass"


def test_the_alerts_the_issue_asks_for_exist():
    rules = {r["alert"]: r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
             for r in g["rules"]}
    for name in ("MyCryptoHighErrorRate", "MyCryptoHighLatencyP95", "MyCryptoOutboxLag", "MyCryptoLedgerDrift",
                 "MyCryptoDatabaseDown", "MyCryptoWithdrawalQueueStuck"):
        assert name in rules
        assert rules[name]["annotations"]["runbook"].startswith("docs/runbooks/INCIDENT_RESPONSE.md#")
    assert "> 0.001" in rules["MyCryptoHighErrorRate"]["expr"] and "> 0.2" in rules["MyCryptoHighLatencyP95"]["expr"]


def test_prometheus_configs_are_valid():
    done = subprocess.run([_promtool(), "check", "config", "prometheus.yml"], cwd=MONITORING, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    k8s = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    assert k8s["scrape_configs"][0]["kubernetes_sd_configs"][0]["role"] == "pod"


def _exported_names() -> set[str]:
    return {family.name for family in REGISTRY.collect()} | EXTERNAL


def _metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)            # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)          # selectors
    expr = re.sub(r"\[[^\]]*\]", "", expr)         # ranges
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
            if w not in PROMQL_WORDS and not w.isdigit() and (w.startswith(("mycrypto_", "process_")) or w == "up")}


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboard_and_rules_reference_only_exported_metrics():
    exported = _exported_names()
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used, "no metric names found"
    unknown = sorted(n for n in used if n not in exported and _base(n) not in exported)
    assert not unknown, f"dashboard/rules use metrics nobody exports: {unknown}"


def test_dashboard_has_the_checklist_panels():
    titles = " | ".join(p["title"] for p in json.loads((MONITORING / "grafana-dashboard.json").read_text())["panels"])
    for needed in ("p50 / p95", "Error rate", "CPU", "Memory", "Database time", "Orders and trades", "Users"):
        assert needed in titles, needed
