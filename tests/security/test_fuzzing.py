"""Fuzzing (OWASP API8/API9 hygiene): schemathesis against the app's own OpenAPI document, CI-sized.

Every operation the document lists is called by a real server with schema-valid and schema-breaking
cases, anonymously, with a web session (cookies + CSRF header) and with a signed API key; no answer may be
a 5xx and every answer must match what the document says (status, content type, headers, schema). The
long run is `scripts/fuzz-api` (docs/SECURITY.md has its last result).
"""
from __future__ import annotations

import os

import requests

from tests.support.factories import DEFAULT_PASSWORD
from tests.support.fuzz import BinanceSigner, Identity, fuzz, load_schema

# Per operation and identity: 3 identities x 8 = 24 cases per operation in CI; FUZZ_EXAMPLES overrides.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# Ending the fuzzer's own session would only turn the rest of the run into 401s.
SESSION_ENDERS = frozenset({"POST /api/v1/auth/logout", "POST /api/v1/auth/sessions/revoke-all"})


def identities(platform) -> list[Identity]:
    """Anonymous; bob's web session (cookies + CSRF); alice's signed API key (read+trade)."""
    anonymous = requests.Session()
    # signed in through the session itself, so its cookie jar holds the cookies with the server's domain
    # and paths: a refresh's Set-Cookie then replaces them (two mc_refresh cookies would send the old
    # one - a reuse, which rightly kills the session)
    web = requests.Session()
    login = web.post(f"{platform.url}/api/v1/auth/login", timeout=30, json={
        "email": platform.bob.email, "password": DEFAULT_PASSWORD, "use_cookies": True})
    assert login.status_code == 200, login.text
    web.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    signed = requests.Session()
    signed.auth = BinanceSigner(platform.alice.api_key, platform.alice.api_secret)
    return [Identity("anonymous", anonymous), Identity("api-key", signed),
            Identity("cookie", web, skip=SESSION_ENDERS)]


def test_the_document_lists_every_route_with_its_errors(platform) -> None:
    schema = load_schema(platform.url)
    labels = [f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()]
    assert len(labels) >= 90, labels            # every operation of /api/v1, /api/v3 and health
    raw = schema.raw_schema
    for path, operations in raw["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "404", "422", "429"):
                assert status in operation["responses"], (method, path, status)


def test_fuzz_every_operation_no_5xx_and_conforming_answers(platform) -> None:
    report = fuzz(platform.url, identities(platform), max_examples=EXAMPLES, seed_value=11)
    print(report.summary())
    assert report.cases >= EXAMPLES * report.operations // 2, report.summary()
    assert not report.errors, report.summary()
    assert not report.failures, report.summary()
    assert not any(status >= 500 for status in report.statuses), report.summary()
    # the credentials work: each signed-in identity got real answers, not only 401s
    for name in ("api-key", "cookie"):
        assert report.by_identity[(name, "2xx")] >= 2 * report.by_identity[("anonymous", "2xx")], report.summary()
