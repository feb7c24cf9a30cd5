"""Fuzzing (OWASP API8/API9 hygiene): schemathesis against the app's own OpenAPI document, CI-sized.

Every operation the document lists is called by a real server with schema-valid and schema-breaking
cases, anonymously, with a web session (cookies + CSRF header) and with a signed API key; no answer may be
a 5xx and every answer must match what the document says (status, content type, headers, schema). The
long run is `scripts/fuzz-api` (docs/SECURITY.md has its last result).
"""
from __future__ import annotations

import os

import requests

from tests.support.fuzz import BinanceSigner, Identity, fuzz, load_schema

# Per operation and identity: 3 identities x 8 = 24 cases per operation in CI; FUZZ_EXAMPLES overrides.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# Ending the fuzzer's own session would only turn the rest of the run into 401s.
SESSION_ENDERS = frozenset({"POST /api/v1/auth/logout", "POST /api/v1/auth/sessions/revoke-all"})


def identities(platform) -> list[Identity]:
    """Anonymous; bob's web session (cookies + CSRF); alice's signed API key (read+trade)."""
    anonymous = requests.Session()
    web = requests.Session()
    for name, value in platform.bob.cookies.items():
        web.cookies.set(name, value)
    web.headers["X-CSRF-Token"] = platform.bob.csrf
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
        assert report.by_identity[(name, "2xx")] >= 40, report.summary()
