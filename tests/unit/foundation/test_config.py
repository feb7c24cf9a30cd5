"""Settings: production refuses default or weak secrets and names each one."""
import pytest

from mycrypto.config import ConfigError, Settings, load_settings

STRONG = "x" * 40


def make(**kw):
    return Settings(_env_file=None, **kw)


def test_development_defaults_are_usable():
    s = make(env="development")
    s.check_production()  # no error outside production
    assert s.embedded_db and s.base_url == "http://127.0.0.1:8000"


def test_production_refuses_default_secrets_and_names_them():
    s = make(env="production", database_url="postgresql://app:postgres@db:5432/mycrypto")
    with pytest.raises(ConfigError) as exc:
        s.check_production()
    text = str(exc.value)
    assert "JWT_SECRET" in text and "DATA_ENCRYPTION_KEY" in text and "DATABASE_URL" in text


def test_production_refuses_short_secret_and_missing_database():
    s = make(env="production", jwt_secret="short", data_encryption_key=STRONG)
    with pytest.raises(ConfigError) as exc:
        s.check_production()
    assert "JWT_SECRET is shorter" in str(exc.value)
    assert "DATABASE_URL is unset" in str(exc.value)


def test_production_accepts_strong_configuration():
    s = make(env="production", jwt_secret=STRONG, data_encryption_key=STRONG + "y",
             database_url="postgresql://app:s3cret-Long-pass@db:5432/mycrypto")
    s.check_production()


def test_malformed_database_url_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert "DATABASE_URL" in str(exc.value)
