"""Schemathesis driver: fuzz every operation of the app's own OpenAPI document against a running server.

Used by tests/security/test_fuzzing.py (a CI-sized run) and scripts/fuzz-api (the long run). Each
operation is run as each identity - anonymous, a web session (httpOnly cookies + the CSRF header) and a
signed API key (Binance-style HMAC over the exact query string, `timestamp` added per request) - with
schemathesis' positive (schema-valid) and negative (schema-breaking) cases. Every answer is held to:

- no 5xx (`not_a_server_error`): a 500 is a bug, and 503 only means a dependency is down;
- the documented status codes, content types, headers and response schemas (the conformance checks).

Findings are collected (one example per operation, identity and check) instead of stopping at the first,
so one run reports everything; `Report.failures` is what the test asserts is empty.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


class BinanceSigner(requests.auth.AuthBase):
    """Signs every request like a Binance client: `timestamp` appended to the query string, then
    `signature` = HMAC-SHA256(secret, query + form body) over the bytes actually sent."""

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key, self.secret = api_key, secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url)
        query = parts.query + ("&" if parts.query else "") + f"timestamp={int(time.time() * 1000)}"
        body = ""
        if (request.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            raw = request.body or ""
            body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        signature = hmac.new(self.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
        request.url = urlunsplit(parts._replace(query=f"{query}&signature={signature}"))
        request.headers["X-MBX-APIKEY"] = self.api_key
        return request


@dataclass
class Identity:
    """Who the fuzzer is: a requests session carrying the credentials (cookies, headers, auth)."""

    name: str
    session: requests.Session
    skip: frozenset[str] = frozenset()   # "METHOD /path" labels not run as this identity (they end it)


@dataclass
class Finding:
    identity: str
    operation: str
    check: str
    title: str
    status: int
    example: str          # curl command that reproduces it

    def line(self) -> str:
        return f"[{self.identity}] {self.operation}: {self.check} ({self.status}) {self.title}\n    {self.example}"


@dataclass
class Report:
    cases: int = 0
    operations: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    by_identity: Counter = field(default_factory=Counter)   # (identity, status class "2xx"...) -> cases
    failures: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   # cases that could not be sent (network, ...)

    def summary(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        who = ", ".join(f"{name} {cls}: {n}" for (name, cls), n in sorted(self.by_identity.items()))
        lines = [f"{self.cases} cases over {self.operations} operation runs in {self.seconds:.0f}s; "
                 f"{len(self.failures)} failures, {len(self.errors)} errors; statuses {{{codes}}}; {who}"]
        lines += [f.line() for f in self.failures]
        lines += self.errors[:20]
        return "\n".join(lines)


def load_schema(base_url: str) -> Any:
    """The document the server serves (what clients see), with the server as its base URL."""
    return schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")


def fuzz(base_url: str, identities: list[Identity], *, max_examples: int, seed_value: int = 0,
         operations: set[str] | None = None, timeout_s: float = 30.0) -> Report:
    """Run `max_examples` cases (half schema-valid, half schema-breaking, roughly) per operation and identity."""
    schema = load_schema(base_url)
    report = Report()
    started = time.monotonic()
    seen: set[tuple[str, str, str, str]] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if operations is not None and label not in operations:
            continue
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))
        for identity in identities:
            if label in identity.skip:
                continue
            report.operations += 1
            _run_one(base_url, strategy, identity, label, max_examples, seed_value, timeout_s, report, seen)
    report.seconds = time.monotonic() - started
    return report


def _run_one(base_url: str, strategy: Any, identity: Identity, label: str, max_examples: int, seed_value: int,
             timeout_s: float, report: Report, seen: set[tuple[str, str, str, str]]) -> None:
    @seed(seed_value)
    @settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=strategy)
    def run(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, session=identity.session, timeout=timeout_s)
        except requests.RequestException as exc:
            report.errors.append(f"[{identity.name}] {label}: {type(exc).__name__}: {exc}")
            return
        report.cases += 1
        report.statuses[response.status_code] += 1
        report.by_identity[(identity.name, f"{response.status_code // 100}xx")] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                check = getattr(failure, "check_name", None) or type(failure).__name__
                title = str(getattr(failure, "title", failure))
                key = (identity.name, label, check, title)
                if key in seen:
                    continue
                seen.add(key)
                report.failures.append(Finding(identity.name, label, check, title, response.status_code,
                                               case.as_curl_command(headers=dict(response.request.headers))))
    run()
