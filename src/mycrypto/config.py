"""Settings: every knob comes from environment variables, read once into one object that is passed in.

`Settings()` reads the environment (and an optional `.env` file); nothing else in the code reads
`os.environ`. `Settings.check_production()` refuses default or weak secrets when
`MYCRYPTO_ENV=production`, naming each offending variable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets: usable on a laptop, refused in production.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_DATA_KEY = "dev-only-data-encryption-key-change-me-0123456789"
MIN_SECRET_LENGTH = 32
WEAK_DB_PASSWORDS = {"", "postgres", "password", "admin", "root", "changeme", "secret"}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- runtime -------------------------------------------------------------------------------
    env: Literal["development", "test", "production"] = Field("development", alias="MYCRYPTO_ENV")
    host: str = Field("127.0.0.1", alias="MYCRYPTO_HOST")
    port: int = Field(8000, alias="MYCRYPTO_PORT", ge=1, le=65535)
    public_url: str = Field("", alias="PUBLIC_URL")  # base URL used in emails; defaults to http://host:port
    data_dir: Path = Field(Path("var"), alias="MYCRYPTO_DATA_DIR")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_json: bool = Field(True, alias="LOG_JSON")

    # --- database --------------------------------------------------------------------------------
    database_url: str | None = Field(None, alias="DATABASE_URL")
    pgdata: Path | None = Field(None, alias="MYCRYPTO_PGDATA")  # embedded server dir; default data_dir/pgdata
    db_pool_min: int = Field(2, alias="DB_POOL_MIN", ge=1)
    db_pool_max: int = Field(10, alias="DB_POOL_MAX", ge=1)
    db_statement_timeout_ms: int = Field(15000, alias="DB_STATEMENT_TIMEOUT_MS", ge=0)

    # --- other infrastructure (optional: unset means in-process fallbacks) -----------------------
    redis_url: str | None = Field(None, alias="REDIS_URL")
    amqp_url: str | None = Field(None, alias="AMQP_URL")
    smtp_url: str | None = Field(None, alias="SMTP_URL")  # smtp://user:pass@host:port, smtps://...
    mail_from: str = Field("MyCrypto <no-reply@mycrypto.local>", alias="MAIL_FROM")

    # --- security --------------------------------------------------------------------------------
    jwt_secret: SecretStr = Field(SecretStr(DEV_JWT_SECRET), alias="JWT_SECRET")
    jwt_issuer: str = Field("mycrypto", alias="JWT_ISSUER")
    jwt_audience: str = Field("mycrypto-api", alias="JWT_AUDIENCE")
    access_token_ttl_s: int = Field(900, alias="ACCESS_TOKEN_TTL_SECONDS", ge=30, le=3600)
    refresh_token_ttl_s: int = Field(14 * 24 * 3600, alias="REFRESH_TOKEN_TTL_SECONDS", ge=300)
    data_encryption_key: SecretStr = Field(SecretStr(DEV_DATA_KEY), alias="DATA_ENCRYPTION_KEY")
    registration_enabled: bool = Field(True, alias="REGISTRATION_ENABLED")
    cors_origins: list[str] = Field(default_factory=list, alias="CORS_ORIGINS")
    max_body_bytes: int = Field(64 * 1024, alias="MAX_BODY_BYTES", ge=1024)
    trust_proxy_headers: bool = Field(False, alias="TRUST_PROXY_HEADERS")
    rate_limits_enabled: bool = Field(True, alias="RATE_LIMITS_ENABLED")

    # --- wallet ----------------------------------------------------------------------------------
    faucet_enabled: bool = Field(True, alias="FAUCET_ENABLED")
    chain_simulator: bool = Field(True, alias="CHAIN_SIMULATOR")

    # --- trade -----------------------------------------------------------------------------------
    trade_markets: list[str] = Field(default_factory=list, alias="TRADE_MARKETS")  # empty = all markets
    trade_batch_max: int = Field(500, alias="TRADE_BATCH_MAX", ge=1)

    @field_validator("database_url", "redis_url", "amqp_url", "smtp_url", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError("DATABASE_URL must look like postgresql://user:password@host:5432/dbname")
        return v.replace("postgresql+asyncpg://", "postgresql://", 1)

    # --- derived ---------------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.pgdata or (self.data_dir / "pgdata")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def dev_tools_enabled(self) -> bool:
        """Faucet, local mailbox and chain simulator: never in production, whatever else is set."""
        return not self.is_production

    def check_production(self) -> None:
        """Refuse to run production with a default or weak secret; name every offender."""
        if not self.is_production:
            return
        problems: list[str] = []
        for name, secret, default in (
            ("JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
            ("DATA_ENCRYPTION_KEY", self.data_encryption_key, DEV_DATA_KEY),
        ):
            value = secret.get_secret_value()
            if value == default or "change-me" in value:
                problems.append(f"{name} is the development default")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters")
        if self.database_url is None:
            problems.append("DATABASE_URL is unset (the embedded database is for development only)")
        else:
            password = urlsplit(self.database_url).password
            if password is None or password.lower() in WEAK_DB_PASSWORDS:
                problems.append("DATABASE_URL has no password or a default/weak one")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Build the settings once (from the environment), turning validation errors into one clear line."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "settings"
            lines.append(f"{loc.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from None
