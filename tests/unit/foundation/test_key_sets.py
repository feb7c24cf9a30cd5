"""Key sets (JWT_KEYS, DATA_ENCRYPTION_KEYS): parsing, the legacy single-key variables, production checks,
and what the key ids do to tokens and ciphertexts (kid selection, tampering, retirement)."""
import base64
import json

import jwt
import pytest

from mycrypto.auth.tokens import InvalidToken, UnknownTokenKey, decode_access_token, issue_access_token
from mycrypto.common.crypto import DecryptError, UnknownKeyId, decrypt, encrypt, key_id_of, needs_reencrypt
from mycrypto.config import DEV_JWT_SECRET, ConfigError, KeyRing, Settings, load_settings

OLD = "old-secret-" + "o" * 30
NEW = "new-secret-" + "n" * 30
DB = "postgresql://app:s3cret-Long-pass@db:5432/mycrypto"


def make(**kw):
    return Settings(_env_file=None, **kw)


def test_single_variable_is_the_legacy_key_and_dev_default_applies_when_nothing_is_set():
    assert make().jwt_keys.keys == (("default", DEV_JWT_SECRET),)
    s = make(JWT_SECRET=OLD, DATA_ENCRYPTION_KEY=OLD)
    assert s.jwt_keys.keys == (("default", OLD),) and s.data_keys.active_id == "default"
    assert make(JWT_SECRET="   ").jwt_keys.active == DEV_JWT_SECRET  # blank (as in .env.example) = unset


def test_key_set_first_is_active_and_single_variable_joins_as_default():
    s = make(JWT_KEYS=f"k2:{NEW}, k1:{OLD}")
    assert s.jwt_keys.ids == ("k2", "k1") and s.jwt_keys.active == NEW and s.jwt_keys.legacy is None
    s = make(JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD)
    assert s.jwt_keys.ids == ("k2", "default") and s.jwt_keys.legacy == OLD
    s = make(DATA_ENCRYPTION_KEYS=f"d2:{NEW},default:{OLD}", DATA_ENCRYPTION_KEY=OLD)  # same key twice: fine
    assert s.data_keys.ids == ("d2", "default")
    assert "n" * 10 not in repr(s.data_keys) and "d2" in repr(s.data_keys)


@pytest.mark.parametrize("value, fragment", [
    ("k2", "entry 1 is not <key id>:<secret>"),
    ("k2:", "entry 1 is not <key id>:<secret>"),
    (f"bad id!:{NEW}", "a key id is 1-32"),
    (f"k2:{NEW},k2:{OLD}", "names key id 'k2' twice"),
    (f"k2:{NEW}\n", None),  # surrounding whitespace of an entry is trimmed; still valid
])
def test_malformed_key_sets_are_one_clear_error_without_the_secret(monkeypatch, value, fragment):
    monkeypatch.setenv("JWT_KEYS", value)
    if fragment is None:
        assert load_settings(_env_file=None).jwt_keys.ids == ("k2",)
        return
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert "JWT_KEYS" in str(exc.value) and fragment in str(exc.value)
    assert NEW not in str(exc.value) and OLD not in str(exc.value)


def test_conflicting_default_key_is_refused(monkeypatch):
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", f"d2:{NEW},default:{NEW}")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", OLD)
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert "DATA_ENCRYPTION_KEYS key id 'default' differs" in str(exc.value)


def test_production_checks_every_key_of_every_set():
    s = make(env="production", database_url=DB, JWT_KEYS=f"k2:{NEW},k1:short", DATA_ENCRYPTION_KEYS=f"d2:{NEW}")
    with pytest.raises(ConfigError) as exc:
        s.check_production()
    assert "JWT_KEYS key 'k1' is shorter than 32" in str(exc.value)
    s = make(env="production", database_url=DB, JWT_KEYS=f"k2:{NEW}", JWT_SECRET="dev-x-change-me-" + "x" * 30,
             DATA_ENCRYPTION_KEYS=f"d2:{NEW}")
    with pytest.raises(ConfigError) as exc:
        s.check_production()
    assert "JWT_SECRET is the development default" in str(exc.value)
    make(env="production", database_url=DB, JWT_KEYS=f"k2:{NEW},k1:{OLD}",
         DATA_ENCRYPTION_KEYS=f"d2:{NEW}", DATA_ENCRYPTION_KEY=OLD).check_production()


# ------------------------------------------------------------------------------------ ciphertexts
def test_ciphertexts_name_their_key_and_old_keys_still_decrypt():
    old_ring = KeyRing((("default", OLD),))
    both = KeyRing((("d2", NEW), ("default", OLD)))
    new_only = KeyRing((("d2", NEW),))
    c_old = encrypt(old_ring, "p", "seed")
    assert c_old.startswith("v2.default.") and key_id_of(c_old) == "default"
    c_new = encrypt(both, "p", "seed")
    assert c_new.startswith("v2.d2.") and decrypt(both, "p", c_new) == "seed" == decrypt(both, "p", c_old)
    assert needs_reencrypt(both, c_old) and not needs_reencrypt(both, c_new)
    with pytest.raises(UnknownKeyId):
        decrypt(new_only, "p", c_old)  # its key was retired
    with pytest.raises(DecryptError):
        decrypt(both, "other-purpose", c_new)
    # the key id is authenticated: relabelling a ciphertext as another key's does not decrypt
    relabelled = "v2.default." + c_new.split(".", 2)[2]
    with pytest.raises(DecryptError):
        decrypt(both, "p", relabelled)
    with pytest.raises(DecryptError):
        decrypt(both, "p", "v2.d2.!!!")
    with pytest.raises(DecryptError):
        decrypt(both, "p", "v3.whatever")


def test_v1_ciphertexts_from_before_key_ids_decrypt_with_the_legacy_key_only():
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from mycrypto.common.crypto import _key

    nonce = os.urandom(12)  # exactly what the pre-key-id code wrote
    v1 = "v1." + base64.urlsafe_b64encode(nonce + AESGCM(_key(OLD, "p")).encrypt(nonce, b"seed", b"p")).decode()
    assert decrypt(OLD, "p", v1) == "seed"
    assert decrypt(KeyRing((("d2", NEW), ("default", OLD))), "p", v1) == "seed"
    assert needs_reencrypt(KeyRing((("default", OLD),)), v1)  # upgraded to v2 by `keys rotate`
    with pytest.raises(UnknownKeyId):
        decrypt(KeyRing((("d2", NEW), ("k1", OLD))), "p", v1)  # only the id `default` is the legacy key


# ----------------------------------------------------------------------------------------- JWTs
def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_tokens_carry_kid_and_verify_until_their_key_is_retired():
    phase1 = make(JWT_SECRET=OLD)
    phase2 = make(JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD)
    phase3 = make(JWT_KEYS=f"k2:{NEW}")
    t1, _ = issue_access_token(phase1, user_id=1, role="user", session_id="s")
    assert jwt.get_unverified_header(t1)["kid"] == "default"
    assert decode_access_token(phase2, t1).user_id == 1
    t2, _ = issue_access_token(phase2, user_id=2, role="user", session_id="s")
    assert jwt.get_unverified_header(t2)["kid"] == "k2"
    assert decode_access_token(phase2, t2).user_id == 2
    with pytest.raises(UnknownTokenKey) as exc:
        decode_access_token(phase3, t1)
    assert exc.value.code == "unknown_token_key" and exc.value.http_status == 401
    assert decode_access_token(phase3, t2).user_id == 2


def test_kid_tampering_and_tokens_without_kid():
    both = make(JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD)
    t2, _ = issue_access_token(both, user_id=2, role="user", session_id="s")
    header, payload, sig = t2.split(".")
    for kid in ("default", 5, None, ["k2"]):  # another configured key, or not a string: signature/format fails
        forged = _b64({"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + payload + "." + sig
        with pytest.raises(InvalidToken):
            decode_access_token(both, forged)
    for kid in ("k9", "k2 ", "K2", "x" * 500):
        with pytest.raises(UnknownTokenKey):
            decode_access_token(both, _b64({"alg": "HS256", "kid": kid}) + "." + payload + "." + sig)
    claims = jwt.decode(t2, options={"verify_signature": False})
    # no kid: checked against the legacy key only (one signed with the active key is refused) ...
    assert decode_access_token(both, jwt.encode(claims, OLD, algorithm="HS256")).user_id == 2
    with pytest.raises(InvalidToken):
        decode_access_token(both, jwt.encode(claims, NEW, algorithm="HS256"))
    # ... and refused once there is no legacy key
    with pytest.raises(UnknownTokenKey):
        decode_access_token(make(JWT_KEYS=f"k2:{NEW}"), jwt.encode(claims, NEW, algorithm="HS256"))
    with pytest.raises(InvalidToken):  # the allow-list still comes first
        decode_access_token(both, jwt.encode(claims, NEW, algorithm="HS512", headers={"kid": "k2"}))


def test_csrf_tokens_made_under_any_configured_key_are_valid():
    from mycrypto.auth.domain.tokens import csrf_token, csrf_valid

    old_csrf = csrf_token(OLD, "sess")
    assert csrf_valid(make(JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD).jwt_keys.secrets, "sess", old_csrf)
    assert not csrf_valid(make(JWT_KEYS=f"k2:{NEW}").jwt_keys.secrets, "sess", old_csrf)
