"""The edge WAF's configuration (deploy/k8s/ingress-nginx): the exclusions the API needs are there and
narrow, and the WAF's own audit log cannot leak what the app never logs (passwords, tokens, 2FA secrets).
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
SNIPPET = yaml.safe_load((ROOT / "deploy/k8s/ingress-nginx/controller-configmap.yaml").read_text())["data"][
    "modsecurity-snippet"]


def rule(rule_id: int) -> str:
    """The text of the SecRule/SecAction with this id (with its continuation lines)."""
    joined = SNIPPET.replace("\\\n", " ")
    for line in joined.splitlines():
        if re.search(rf"\bid:{rule_id}\b", line):
            return line
    raise AssertionError(f"no rule {rule_id}")


def test_blocking_mode_with_json_bodies_parsed_field_by_field() -> None:
    assert "SecRuleEngine On" in SNIPPET and "SecRequestBodyAccess On" in SNIPPET
    assert "ctl:requestBodyProcessor=JSON" in rule(10000) and "application/json" in rule(10000)
    assert "SecRequestBodyLimit 65536" in SNIPPET      # = the app's MAX_BODY_BYTES default


def test_only_the_media_types_the_app_accepts() -> None:
    allowed = re.findall(r"\|([^|]+)\|", rule(900220))
    assert sorted(allowed) == ["application/json", "application/x-www-form-urlencoded"]


def test_password_fields_are_excluded_from_every_crs_rule_on_auth_routes_only() -> None:
    line = rule(10001)
    assert '"@beginsWith /api/v1/auth/"' in line
    for field in ("password", "current_password", "new_password"):
        assert f"ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:json.{field}" in line, field
    assert "ruleEngine=Off" not in SNIPPET and "ctl:ruleRemoveById" not in SNIPPET   # nothing switched off whole


def test_binance_signed_requests_pass() -> None:
    line = rule(10002)
    assert '"@beginsWith /api/v3/"' in line and "ARGS:signature" in line and "ARGS:symbols" in line


def test_the_audit_log_holds_no_request_headers_or_bodies() -> None:
    parts = re.search(r"SecAuditLogParts (\w+)", SNIPPET).group(1)
    assert not set(parts) & set("BCIJE"), parts       # headers, bodies, response bodies
    assert "H" in parts and "A" in parts


def test_internal_paths_never_answer_from_the_internet() -> None:
    assert "deny" in rule(10010) and "metrics" in rule(10010) and "dev/" in rule(10010)
