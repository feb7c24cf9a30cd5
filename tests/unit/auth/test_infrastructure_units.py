"""Units around the I/O edges: the in-process token bucket, the access-token cache, email rendering."""
from __future__ import annotations

import time

import pytest

from mycrypto.auth.tokens import ExpiredToken, InvalidToken, decode_access_token, issue_access_token
from mycrypto.common.errors import RateLimited
from mycrypto.common.ratelimit import DisabledLimiter, MemoryLimiter, build_limiter
from mycrypto.config import Settings
from mycrypto.notify.emails import SUBJECTS, TemplateError, email_payload, render
from mycrypto.notify.relay import backoff_s


def _settings(**kw) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_memory_bucket_refills_at_rate_and_reports_retry_after():
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    assert [(await limiter.hit("k", rate=2, burst=3)).allowed for _ in range(4)] == [True, True, True, False]
    refused = await limiter.hit("k", rate=2, burst=3)
    assert refused.retry_after == pytest.approx(0.5)
    clock.t += 0.5
    assert (await limiter.hit("k", rate=2, burst=3)).allowed
    clock.t += 100
    assert (await limiter.hit("k", cost=3, rate=2, burst=3)).allowed  # refilled to the burst, not beyond
    assert not (await limiter.hit("k", cost=1, rate=2, burst=3)).allowed
    assert not (await limiter.hit("other", cost=4, rate=2, burst=3)).allowed  # can never pass
    with pytest.raises(RateLimited) as exc:
        await limiter.check("k", rate=2, burst=3)
    assert exc.value.headers == {"Retry-After": "1"}
    with pytest.raises(ValueError):
        await limiter.hit("k", rate=0, burst=3)


def test_limiter_choice_follows_settings():
    assert isinstance(build_limiter(_settings(RATE_LIMITS_ENABLED=False)), DisabledLimiter)
    assert isinstance(build_limiter(_settings()), MemoryLimiter)


def test_access_token_cache_never_outlives_the_token():
    settings = _settings(ACCESS_TOKEN_TTL_SECONDS=30)
    token, exp = issue_access_token(settings, user_id=7, role="user", session_id="s1", now=time.time() - 40)
    with pytest.raises(ExpiredToken):
        decode_access_token(settings, token)
    good, _ = issue_access_token(settings, user_id=7, role="user", session_id="s1")
    first = decode_access_token(settings, good)
    assert decode_access_token(settings, good) is first  # cached
    other = _settings(JWT_SECRET="a-completely-different-secret-of-enough-length")
    with pytest.raises(InvalidToken):
        decode_access_token(other, good)  # the cache is per signing key


def test_every_template_renders_text_and_html_and_escapes_values():
    settings = _settings(PUBLIC_URL="https://ex.test")
    values = {"verify_email": {"expires_hours": 48}, "password_reset": {"expires_minutes": 60},
              "security_notice": {"what": "<b>x</b>", "when": "now", "ip": "1.2.3.4"}, "account_exists": {},
              "price_alert": {"what": "<b>x</b>", "price": "1 USDT", "value": "-", "when": "now", "note_line": ""}}
    for template in SUBJECTS:
        secret = {"link": "https://ex.test/l?token=a&b=<c>"} if template in ("verify_email", "password_reset") else None
        msg = render(settings, email_payload(settings, to="a@example.com", template=template,
                                             vars=values[template], secret_vars=secret))
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert msg["Subject"].startswith("MyCrypto: ") and text.strip() and "<html" in html
        if secret:
            assert "https://ex.test/l?token=a&b=<c>" in text and "token=a&amp;b=&lt;c&gt;" in html
        if template in ("security_notice", "price_alert"):
            assert "&lt;b&gt;x&lt;/b&gt;" in html
    with pytest.raises(TemplateError):
        render(settings, {"to": "a@example.com", "template": "nope", "vars": {}})
    with pytest.raises(TemplateError):
        render(settings, {"to": "a@example.com", "template": "verify_email", "vars": {}})  # no link
    with pytest.raises(TemplateError):
        render(_settings(DATA_ENCRYPTION_KEY="another-key-another-key-another-key"),
               email_payload(settings, to="a@example.com", template="verify_email", vars={"expires_hours": 1},
                             secret_vars={"link": "x"}))


def test_relay_backoff_is_exponential_and_capped():
    assert [backoff_s(a, 1, 30) for a in range(7)] == [1, 2, 4, 8, 16, 30, 30]
