"""Injection (OWASP API8 family) and SSRF (API7).

SQL: every string parameter of every documented GET operation (query and path) and the string fields of
the create bodies get SQL metacharacters, a NUL byte and a pg_sleep; the server answers 2xx/4xx quickly,
never 5xx, shows no other user's rows and the database is unchanged. Headers: CR/LF in anything that is
reflected into a response header (request id, redirects) never splits the response. Log injection is in
test_owasp_api3_exposure.py. SSRF: an inventory - the only outbound HTTP clients in the code base talk to
addresses from configuration or the database, and no operation takes a URL from the client.
"""
from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).parents[2]
DOC = json.loads((ROOT / "docs/api/openapi.json").read_text())
PAYLOADS = ["' OR '1'='1", "'; DROP TABLE auth.app_user; --", '" OR 1=1 --', "1) OR (1=1",
            "x'; SELECT pg_sleep(3); --", "%' UNION SELECT password_hash FROM auth.app_user --",
            "abc\x00def", "\\'; --", "$1", "😀' --"]


def _string_params() -> list[tuple[str, str, str]]:
    """(path, location, name) of every string-typed GET parameter."""
    out = []
    for path, operations in DOC["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        for param in operation.get("parameters", []):
            schema = param.get("schema", {})
            types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
            if "string" in types and param["in"] in ("query", "path"):
                out.append((path, param["in"], param["name"]))
    return out


def _concrete(path: str, fill: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(fill.get(m.group(1), "1"), safe=""), path)


async def _fingerprint(db) -> tuple:
    return tuple(await db.fetchrow(
        "SELECT (SELECT count(*) FROM auth.app_user), (SELECT count(*) FROM auth.api_key), "
        "(SELECT count(*) FROM trade.spot_order), (SELECT count(*) FROM wallet.posting), "
        "(SELECT count(*) FROM wallet.withdrawal)"))


async def test_sql_metacharacters_in_every_string_parameter(platform) -> None:
    p = platform
    with p.client(headers=p.bob.bearer) as c:
        r = c.post("/api/v1/trade/orders", json={"symbol": "BTC-USDT", "side": "sell", "type": "limit",
                                                 "price": "91000", "quantity": "0.01", "client_order_id": "bobs-own"})
        assert r.status_code == 201, r.text
    before = await _fingerprint(p.db)
    params = _string_params()
    assert len(params) >= 30, params
    fill = {"symbol": "BTC-USDT", "asset": "BTC", "name": "sma", "client_order_id": "x", "user_id": str(p.bob.id)}
    slow = []
    with p.client(headers=p.alice.bearer) as c, p.client(headers=p.admin.bearer) as admin:
        for path, where, name in params:
            client = admin if "/admin/" in path else c
            for payload in PAYLOADS:
                if where == "path":
                    url, query = _concrete(path, {**fill, name: payload}), {}
                else:
                    url, query = _concrete(path, fill), {name: payload}
                started = time.monotonic()
                r = client.get(url, params=query)
                if time.monotonic() - started > 2.5:
                    slow.append((url, query))
                assert r.status_code < 500, (url, query, r.status_code, r.text[:300])
                if client is c:
                    assert "bobs-own" not in r.text and p.bob.email not in r.text, (url, query, r.text[:300])
        # JSON bodies: every free-text field of the create operations
        bodies = [
            ("/api/v1/auth/login", lambda v: {"email": f"a{v}@example.com", "password": v}),
            ("/api/v1/auth/register", lambda v: {"email": f"{v}@example.com", "password": v + "long enough"}),
            ("/api/v1/auth/forgot-password", lambda v: {"email": v}),
            ("/api/v1/trade/orders", lambda v: {"symbol": v, "side": "buy", "type": "limit", "price": "1",
                                                 "quantity": "1"}),
            ("/api/v1/trade/orders", lambda v: {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "1",
                                                 "quantity": "0.001", "client_order_id": v}),
            ("/api/v1/wallet/withdrawals", lambda v: {"asset": "BTC", "address": v, "amount": "0.001"}),
            ("/api/v1/wallet/withdrawals", lambda v: {"asset": v, "address": "x", "amount": "1"}),
            ("/api/v1/trade/alerts", lambda v: {"symbol": "BTC-USDT", "note": v, "condition": {
                "type": "price", "direction": "above", "price": "99999"}}),
            ("/api/v1/auth/api-keys", lambda v: {"label": v[:64], "permissions": ["read"]}),
        ]
        for path, body in bodies:
            for payload in PAYLOADS:
                started = time.monotonic()
                r = c.post(path, json=body(payload))
                if time.monotonic() - started > 2.5:
                    slow.append((path, payload))
                assert r.status_code < 500, (path, payload, r.status_code, r.text[:300])
    assert not slow, f"pg_sleep ran? {slow}"
    after = await _fingerprint(p.db)
    # nothing was dropped; what the valid-looking payloads created (a sign-up as "$1@example.com", an API
    # key labelled "' OR '1'='1", ...) holds the payload as plain text
    assert all(a >= b for a, b in zip(after, before, strict=True)), (before, after)
    new_users = await p.db.fetch("SELECT email FROM auth.app_user ORDER BY id OFFSET $1", before[0])
    assert {r["email"] for r in new_users} <= {f"{v}@example.com".lower() for v in PAYLOADS}, new_users
    labels = {r["label"] for r in await p.db.fetch("SELECT label FROM auth.api_key WHERE user_id = $1", p.alice.id)}
    assert labels - {"security-suite"} <= {v[:64].strip() for v in PAYLOADS}, labels
    assert await p.db.fetchval("SELECT count(*) FROM trade.spot_order WHERE client_order_id = 'bobs-own'") == 1


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_no_response_splitting(platform) -> None:
    with platform.client() as c:
        # a request id that is not a plain token is replaced, not echoed
        r = c.get("/health/live", headers={"X-Request-ID": "abc%0d%0aSet-Cookie:%20pwned=1"})
        assert r.headers["x-request-id"] != "abc%0d%0aSet-Cookie:%20pwned=1" and "set-cookie" not in r.headers
        # the page redirect reflects the path (as sent, percent-encoded); a CR/LF in it is no page at all
        r = c.get("/markets/a%20b", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/app/markets/a%20b", r.headers
        r = c.get("/markets/%0d%0aSet-Cookie:%20pwned=1", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code in (307, 404) and "set-cookie" not in r.headers
        assert "\n" not in r.headers.get("location", "") and "\r" not in r.headers.get("location", "")
        r = c.get("//evil.example/%2e%2e", headers={"Accept": "text/html"}, follow_redirects=False)
        assert not r.headers.get("location", "/").startswith("//"), r.headers
    # raw CR/LF inside a header value: the HTTP parser refuses the request; nothing is reflected
    answer = _raw(platform.url, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rSet-Cookie: pwned=1\r\n\r\n")
    assert b"pwned" not in answer


def test_ssrf_inventory_no_operation_fetches_a_client_url() -> None:
    """Outbound HTTP exists in exactly these modules, each aimed at a configured or registered address."""
    known = {
        "trading/forwarding.py": "the market owner's TRADE_ADVERTISE_URL, read from trade.market_engine",
        "trading/api.py": "builds the forwarding client (no URL of its own)",
        "wallet/chain/evm/rpc.py": "the EVM node URL from settings (EVM_RPC_URL)",
        "ops/smoke.py": "operator command: the URL the operator passes on the command line",
        "ops/loadgen.py": "operator command: the URL the operator passes on the command line",
        "ops/preflight/__init__.py": "operator command: the base URL the operator passes",
        "ops/preflight/checks.py": "operator command: the configured services",
        "container.py": "names the forwarding client's type (annotation only)",
    }
    outbound = re.compile(r"httpx\.(Async)?Client\(|requests\.(get|post|Session)|urlopen\(|aiohttp|"
                          r"http\.client|urllib3")
    found = {}
    src = ROOT / "src/mycrypto"
    for path in src.rglob("*.py"):
        text = path.read_text()
        if outbound.search(text) or re.search(r"^\s*(import|from) (httpx|requests|aiohttp)\b", text, re.M):
            found[str(path.relative_to(src))] = True
    assert set(found) <= set(known), f"new outbound HTTP client - check it for SSRF: {set(found) - set(known)}"
    # and no operation accepts a URL-like field from the client
    url_like = re.compile(r"(url|uri|callback|webhook|endpoint|host)$", re.I)
    for path, operations in DOC["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                assert not url_like.search(param["name"]), (method, path, param["name"])
            body = json.dumps(operation.get("requestBody", {}))
            for name in re.findall(r'"([A-Za-z_]+)": \{', body):
                assert not url_like.search(name) or name == "endpoint", (method, path, name)
            assert '"format": "uri"' not in body, (method, path)
