"""Pure auth rules: email normalisation and look-alikes, password policy, lockout backoff, signing."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mycrypto.auth.domain import lockout, signing
from mycrypto.auth.domain.emails import normalise_email
from mycrypto.auth.domain.passwords import MIN_LENGTH, check_password
from mycrypto.auth.domain.rules import Rejected
from mycrypto.auth.domain.tokens import csrf_token, csrf_valid, hash_secret, new_api_key_pair, new_recovery_codes
from mycrypto.auth.passwords import common_passwords


@pytest.mark.parametrize(("raw", "stored"), [
    ("Alice@Example.COM", "alice@example.com"),
    ("  bob@example.com\n", "bob@example.com"),
    ("carol@BÜCHER.example", "carol@xn--bcher-kva.example"),
    ("user+tag@gmail.com", "user+tag@gmail.com"),
    ("алиса@пример.рф", "алиса@xn--e1afmkfd.xn--p1ai"),
    ("jürgen@example.de", "jürgen@example.de"),
    ("山田@例え.jp", "山田@xn--r8jz45g.jp"),
])
def test_emails_are_normalised(raw, stored):
    assert normalise_email(raw) == stored


@pytest.mark.parametrize(("raw", "code"), [
    ("", "invalid_email"), ("plain", "invalid_email"), ("a@b", "invalid_email"), ("a@b@c.com", "invalid_email"),
    ('"quoted"@example.com', "invalid_email"), ("x@[127.0.0.1]", "invalid_email"),
    ("a" * 300 + "@example.com", "invalid_email"),
    ("p\u0430ypal@example.com", "email_mixed_script"),
    ("\u0440\u0430\u0443\u0440\u0430\u04cf@example.com", "email_lookalike"),  # all-Cyrillic "paypal"
    ("\u0251lice@example.com", "email_lookalike"),  # Latin alpha
    ("\uff41lice@example.com", "email_lookalike"),
    ("ali\u00adce@example.com", "email_invalid_characters"),  # soft hyphen
    ("al\u200dice@example.com", "email_invalid_characters"),
    ("bob@ex\u0430mple.com", "email_mixed_script"),
    ("\u0130stanbul@example.com", "email_lookalike"),
])
def test_bad_and_lookalike_emails_have_specific_codes(raw, code):
    with pytest.raises(Rejected) as exc:
        normalise_email(raw)
    assert exc.value.code == code


@given(st.emails())
def test_any_valid_ascii_email_normalises_idempotently(email):
    try:
        once = normalise_email(email)
    except Rejected:
        return  # hypothesis' emails() allows forms we refuse (e.g. quoted); refusing is fine
    assert normalise_email(once) == once and once == once.strip().lower()


def test_common_password_list_ships_with_the_package():
    common = common_passwords()
    assert len(common) >= 20_000
    assert {"password", "123456", "qwerty123456", "iloveyou"} <= common


@pytest.mark.parametrize(("password", "code"), [
    ("a" * (MIN_LENGTH - 1), "password_too_short"),
    ("x" * 257, "password_too_long"),
    ("qazwsxedcrfv", "password_too_common"),
    ("1qaz2wsx3edc", "password_too_common"),
    ("Password123456", "password_too_common"),
    ("monkeymonkeymonkey", "password_too_common"),
    ("abababababababab", "password_too_common"),
    ("dave-the-great-1234", "password_contains_email"),
])
def test_password_policy(password, code):
    with pytest.raises(Rejected) as exc:
        check_password(password, email="dave@example.com", common=common_passwords())
    assert exc.value.code == code


def test_good_passwords_pass():
    for password in ("correct horse battery staple", "Ünïcödé-päss-wörd-9", "violet-harbour-lantern-93"):
        check_password(password, email="dave@example.com", common=common_passwords())


def test_lockout_backoff_grows_is_capped_and_decays():
    seconds = [lockout.lock_seconds(n, lockout.IP_FREE_FAILURES, lockout.IP_BASE_S) for n in range(1, 15)]
    assert seconds[:4] == [0, 0, 0, 0] and seconds[4] == 30 and seconds[5] == 60 and seconds[6] == 120
    assert max(seconds) == lockout.MAX_LOCK_S and seconds == sorted(seconds)
    assert lockout.lock_seconds(10_000, 5, 30) == lockout.MAX_LOCK_S  # never more than the cap
    out = lockout.after_failure(12, seconds_since_last=lockout.DECAY_S + 1, free=5, base=30)
    assert out.failures == 1 and out.lock_s == 0


def _sig(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def test_signing_covers_exact_query_then_body_without_the_signature():
    q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    b = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    # Binance's documented example (query + body)
    expected = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    signed = signing.extract(q, b + "&signature=" + expected)
    assert signed.payload == q + b and signed.signature == expected
    signing.verify_signature(secret, signed)
    assert signed.params["timestamp"] == "1499827319559" and signed.params["symbol"] == "LTCBTC"
    with pytest.raises(Rejected) as exc:
        signing.verify_signature(secret, signing.extract(q.replace("BUY", "SELL"), b + "&signature=" + expected))
    assert exc.value.code == "signature_invalid"


def test_timestamp_window():
    now = 1_700_000_000_000
    signing.check_timestamp({"timestamp": str(now - 4999)}, now)
    signing.check_timestamp({"timestamp": str(now + 999)}, now)
    signing.check_timestamp({"timestamp": str(now - 59_000), "recvWindow": "60000"}, now)
    for params, code in [({}, "timestamp_missing"), ({"timestamp": "12ab"}, "timestamp_invalid"),
                         ({"timestamp": str(now - 5001)}, "timestamp_outside_recv_window"),
                         ({"timestamp": str(now + 1000)}, "timestamp_outside_recv_window"),
                         ({"timestamp": str(now), "recvWindow": "60001"}, "recv_window_invalid"),
                         ({"timestamp": str(now), "recvWindow": "0"}, "recv_window_invalid"),
                         ({"timestamp": str(now), "recvWindow": "-5"}, "recv_window_invalid")]:
        with pytest.raises(Rejected) as exc:
            signing.check_timestamp(params, now)
        assert exc.value.code == code, params


def test_secrets_and_csrf_tokens():
    key, secret = new_api_key_pair()
    assert len(key) == len(secret) == 64 and key.isalnum() and key != secret
    codes = new_recovery_codes()
    assert len(codes) == 10 and all(len(c) == 14 and c.count("-") == 2 for c in codes)
    assert len(hash_secret("rt_x")) == 32
    token = csrf_token("k" * 40, "session-1")
    assert csrf_valid("k" * 40, "session-1", token)
    assert not csrf_valid("k" * 40, "session-2", token) and not csrf_valid("k" * 40, "session-1", None)
