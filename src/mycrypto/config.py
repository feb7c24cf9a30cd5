"""Settings: every knob comes from environment variables, read once into one object that is passed in.

`Settings()` reads the environment (and an optional `.env` file); nothing else in the code reads
`os.environ`. `Settings.check_production()` refuses default or weak secrets when
`MYCRYPTO_ENV=production`, naming each offending variable.

The two master secrets are key sets with ids (docs/key-rotation.md): `JWT_KEYS="k2:<secret>,k1:<secret>"`
and `DATA_ENCRYPTION_KEYS` in the same form, the first key being the active one (it signs / encrypts),
the others only verifying / decrypting. The single-key variables `JWT_SECRET` and `DATA_ENCRYPTION_KEY`
still work: such a key is the set's key id `default`, the *legacy* key, which alone checks what was
made before key ids existed (tokens without `kid`, `v1.` ciphertexts). `settings.jwt_keys` and
`settings.data_keys` are the resulting `KeyRing`s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets: usable on a laptop, refused in production.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_DATA_KEY = "dev-only-data-encryption-key-change-me-0123456789"
MIN_SECRET_LENGTH = 32
WEAK_DB_PASSWORDS = {"", "postgres", "password", "admin", "root", "changeme", "secret"}
LEGACY_KEY_ID = "default"  # the id of JWT_SECRET / DATA_ENCRYPTION_KEY inside their key sets
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the variable."""


@dataclass(frozen=True)
class KeyRing:
    """An ordered set of secrets by key id: `active` signs/encrypts, every key verifies/decrypts.

    `legacy` is the secret of key id `default` (None once it is retired): the only key that checks
    material made before key ids existed. `repr` never shows a secret.
    """

    keys: tuple[tuple[str, str], ...]  # (key id, secret), active first

    @property
    def active_id(self) -> str:
        return self.keys[0][0]

    @property
    def active(self) -> str:
        return self.keys[0][1]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(secret for _, secret in self.keys)

    def get(self, kid: str) -> str | None:
        for key_id, secret in self.keys:
            if key_id == kid:
                return secret
        return None

    @property
    def legacy(self) -> str | None:
        return self.get(LEGACY_KEY_ID)

    def __repr__(self) -> str:
        return f"KeyRing(active={self.active_id!r}, ids={list(self.ids)!r})"

    @staticmethod
    def single(secret: str) -> KeyRing:
        """A one-key set (the legacy key): what a bare secret string means wherever a KeyRing is expected."""
        return KeyRing(((LEGACY_KEY_ID, secret),))


def parse_key_set(text: str, variable: str) -> tuple[tuple[str, str], ...]:
    """`"k2:secret,k1:secret"` -> ((k2, secret), (k1, secret)). Errors name the variable, never a secret."""
    out: list[tuple[str, str]] = []
    for n, item in enumerate(p.strip() for p in text.split(",")):
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not sep or not secret:
            raise ValueError(f"{variable} entry {n + 1} is not <key id>:<secret>")
        if not _KEY_ID.fullmatch(kid):
            raise ValueError(f"{variable} entry {n + 1}: a key id is 1-32 of A-Z a-z 0-9 _ -")
        if any(kid == k for k, _ in out):
            raise ValueError(f"{variable} names key id {kid!r} twice")
        out.append((kid, secret))
    return tuple(out)


@lru_cache(maxsize=64)
def _key_ring(keys_text: str, legacy: str, legacy_default: str, variable: str) -> KeyRing:
    """The set from the KEYS variable plus the single legacy variable (when it is set, i.e. not the
    development default, or when nothing else is): that one joins as key id `default`."""
    keys = list(parse_key_set(keys_text, variable))
    named = dict(keys)
    if not keys or legacy != legacy_default:
        if LEGACY_KEY_ID in named:
            if named[LEGACY_KEY_ID] != legacy and legacy != legacy_default:
                raise ValueError(f"{variable} key id {LEGACY_KEY_ID!r} differs from the single-key variable")
        else:
            keys.append((LEGACY_KEY_ID, legacy))
    return KeyRing(tuple(keys))


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
    # asyncpg's prepared-statement cache per connection; 0 behind PgBouncer in transaction mode
    # (docs/operations.md: a prepared statement must not outlive the server connection it was made on)
    db_statement_cache_size: int = Field(100, alias="DB_STATEMENT_CACHE_SIZE", ge=0)
    # --- operations (issue 15; see docs/operations.md) -------------------------------------------
    # 0 = /metrics on the service's own port; N = only on port N (the ingress never routes there)
    metrics_port: int = Field(0, alias="METRICS_PORT", ge=0, le=65535)
    # where `mycrypto backup/restore` find pg_dump/pg_restore first (else PATH, Debian's, pgserver's)
    pg_bin_dir: Path | None = Field(None, alias="PG_BIN_DIR")

    # --- other infrastructure (optional: unset means in-process fallbacks) -----------------------
    redis_url: str | None = Field(None, alias="REDIS_URL")
    amqp_url: str | None = Field(None, alias="AMQP_URL")
    smtp_url: str | None = Field(None, alias="SMTP_URL")  # smtp://user:pass@host:port, smtps://...
    mail_from: str = Field("MyCrypto <no-reply@mycrypto.local>", alias="MAIL_FROM")

    # --- security --------------------------------------------------------------------------------
    # key sets (docs/key-rotation.md): "k2:<secret>,k1:<secret>", active first; the single-key variables
    # below are the legacy key id `default` (used alone when the set is empty)
    jwt_keys_text: SecretStr = Field(SecretStr(""), alias="JWT_KEYS")
    jwt_secret: SecretStr = Field(SecretStr(DEV_JWT_SECRET), alias="JWT_SECRET")
    jwt_issuer: str = Field("mycrypto", alias="JWT_ISSUER")
    jwt_audience: str = Field("mycrypto-api", alias="JWT_AUDIENCE")
    access_token_ttl_s: int = Field(900, alias="ACCESS_TOKEN_TTL_SECONDS", ge=30, le=3600)
    refresh_token_ttl_s: int = Field(14 * 24 * 3600, alias="REFRESH_TOKEN_TTL_SECONDS", ge=300)
    data_encryption_keys_text: SecretStr = Field(SecretStr(""), alias="DATA_ENCRYPTION_KEYS")
    data_encryption_key: SecretStr = Field(SecretStr(DEV_DATA_KEY), alias="DATA_ENCRYPTION_KEY")
    registration_enabled: bool = Field(True, alias="REGISTRATION_ENABLED")
    cors_origins: list[str] = Field(default_factory=list, alias="CORS_ORIGINS")
    max_body_bytes: int = Field(64 * 1024, alias="MAX_BODY_BYTES", ge=1024)
    trust_proxy_headers: bool = Field(False, alias="TRUST_PROXY_HEADERS")
    rate_limits_enabled: bool = Field(True, alias="RATE_LIMITS_ENABLED")

    # --- wallet ----------------------------------------------------------------------------------
    faucet_enabled: bool = Field(True, alias="FAUCET_ENABLED")
    chain_simulator: bool = Field(True, alias="CHAIN_SIMULATOR")
    # (issue 4, docs/wallet.md) A real node/custodian integration as "package.module:factory"
    # (factory(settings, db) -> wallet.chain.ChainAdapter); empty = the simulator outside production.
    chain_adapter: str = Field("", alias="CHAIN_ADAPTER")
    # Seconds between runs of the deposit watcher + withdrawal processor; 0 turns the background loop
    # off (tests drive it by hand; `mycrypto wallet scan` runs one round).
    wallet_watch_interval_s: float = Field(2.0, alias="WALLET_WATCH_INTERVAL_SECONDS", ge=0, le=3600)
    # (issue 14, docs/wallet.md "EVM adapter") A real Ethereum-compatible node for ETH and its tokens.
    # Set CHAIN_ETH_RPC_URL to use it; secrets are ciphertexts of `mycrypto chain encrypt-secret`.
    chain_eth_rpc_url: str = Field("", alias="CHAIN_ETH_RPC_URL")
    chain_eth_chain_id: int = Field(1, alias="CHAIN_ETH_CHAIN_ID", ge=1)
    chain_eth_tokens: str = Field("", alias="CHAIN_ETH_TOKENS")  # "USDT=0xdAC1...[:6]" (asset=contract[:decimals])
    chain_eth_confirmations: str = Field("", alias="CHAIN_ETH_CONFIRMATIONS")  # "ETH=12,USDT=12"
    chain_eth_hot_key: SecretStr = Field(SecretStr(""), alias="CHAIN_ETH_HOT_KEY")
    chain_eth_deposit_seed: SecretStr = Field(SecretStr(""), alias="CHAIN_ETH_DEPOSIT_SEED")
    chain_eth_deposit_xpub: str = Field("", alias="CHAIN_ETH_DEPOSIT_XPUB")
    chain_eth_cold_address: str = Field("", alias="CHAIN_ETH_COLD_ADDRESS")
    chain_eth_hot_max: str = Field("", alias="CHAIN_ETH_HOT_MAX")  # "ETH=50,USDT=100000": above -> cold
    chain_eth_sweep_min: str = Field("", alias="CHAIN_ETH_SWEEP_MIN")  # "ETH=0.01,USDT=10"
    chain_eth_start_block: int | None = Field(None, alias="CHAIN_ETH_START_BLOCK", ge=0)
    chain_eth_max_fee_gwei: int = Field(500, alias="CHAIN_ETH_MAX_FEE_GWEI", ge=1)
    chain_eth_stuck_seconds: float = Field(180.0, alias="CHAIN_ETH_STUCK_SECONDS", ge=0)
    chain_eth_rpc_timeout_s: float = Field(10.0, alias="CHAIN_ETH_RPC_TIMEOUT_SECONDS", gt=0, le=120)
    chain_eth_scan_blocks: int = Field(200, alias="CHAIN_ETH_SCAN_BLOCKS", ge=1, le=10000)

    # --- trade -----------------------------------------------------------------------------------
    trade_markets: list[str] = Field(default_factory=list, alias="TRADE_MARKETS")  # empty = all markets
    trade_batch_max: int = Field(500, alias="TRADE_BATCH_MAX", ge=1)
    # --- trade engine ownership and reads (issue 5; see docs/trading.md) -------------------------
    # false = this replica runs no matching engine (API only; order commands are forwarded to owners)
    trade_engines: bool = Field(True, alias="TRADE_ENGINES")
    # how often a replica retries to take free markets, heartbeats and follows halts made elsewhere
    trade_owner_poll_s: float = Field(1.0, alias="TRADE_OWNER_POLL_SECONDS", gt=0, le=60)
    # URL other replicas forward order commands to (default: PUBLIC_URL or http://HOST:PORT)
    trade_advertise_url: str = Field("", alias="TRADE_ADVERTISE_URL")
    trade_forward_timeout_s: float = Field(10.0, alias="TRADE_FORWARD_TIMEOUT_SECONDS", gt=0, le=120)
    # non-owner replicas serve order book / trades / ticker from the database, cached this long
    trade_read_cache_ms: int = Field(500, alias="TRADE_READ_CACHE_MS", ge=0, le=60000)

    # --- price alerts (issue 13; see docs/alerts.md): active alerts a user may have at once
    alerts_max_per_user: int = Field(50, alias="ALERTS_MAX_PER_USER", ge=1, le=1000)

    # --- Binance-compatible API /api/v3 (issue 6; see docs/binance-api.md) -----------------------
    # REQUEST_WEIGHT per minute per client IP (Binance's default is 6000) and new orders per 10 s per user
    binance_weight_per_minute: int = Field(6000, alias="BINANCE_WEIGHT_PER_MINUTE", ge=1)
    binance_orders_per_10s: int = Field(100, alias="BINANCE_ORDERS_PER_10S", ge=1)

    # --- auth + notifier (issue 3; see docs/auth.md and docs/email.md) ---------------------------
    # argon2id cost; changing these makes every hash re-hash at its owner's next login.
    argon2_time_cost: int = Field(3, alias="ARGON2_TIME_COST", ge=1, le=20)
    argon2_memory_kib: int = Field(65536, alias="ARGON2_MEMORY_KIB", ge=1024, le=1048576)
    argon2_parallelism: int = Field(4, alias="ARGON2_PARALLELISM", ge=1, le=16)
    email_verify_ttl_s: int = Field(48 * 3600, alias="EMAIL_VERIFY_TTL_SECONDS", ge=300)
    password_reset_ttl_s: int = Field(3600, alias="PASSWORD_RESET_TTL_SECONDS", ge=300)
    # Redis key prefix of the rate limiter (lets several deployments or test runs share one Redis).
    rate_limit_prefix: str = Field("mycrypto:rl:", alias="RATE_LIMIT_PREFIX")
    email_queue: str = Field("mycrypto.email", alias="EMAIL_QUEUE")  # RabbitMQ queue (+ .retry/.dead)
    email_max_attempts: int = Field(6, alias="EMAIL_MAX_ATTEMPTS", ge=1, le=50)
    email_retry_base_s: float = Field(2.0, alias="EMAIL_RETRY_BASE_SECONDS", gt=0, le=3600)
    # Consume the email queue inside the web process too (`mycrypto up`); unset = on outside production.
    notifier_in_process: bool | None = Field(None, alias="NOTIFIER_IN_PROCESS")

    @field_validator("database_url", "redis_url", "amqp_url", "smtp_url", "pg_bin_dir", "chain_eth_start_block", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("notifier_in_process", mode="before")
    @classmethod
    def _blank_is_auto(cls, v: object) -> object:  # NOTIFIER_IN_PROCESS= (blank) means "auto"
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

    @model_validator(mode="before")
    @classmethod
    def _drop_blank_secrets(cls, data: object) -> object:  # JWT_SECRET= (blank, as in .env.example) = unset
        if isinstance(data, dict):
            for name in ("JWT_SECRET", "jwt_secret", "DATA_ENCRYPTION_KEY", "data_encryption_key"):
                v = data.get(name)
                if isinstance(v, str) and not v.strip():
                    data.pop(name)
        return data

    @model_validator(mode="after")
    def _valid_key_sets(self) -> Settings:
        self.jwt_keys  # noqa: B018 - parse now so a malformed set is a start-up error
        self.data_keys  # noqa: B018
        return self

    # --- derived ---------------------------------------------------------------------------------
    @property
    def jwt_keys(self) -> KeyRing:
        """JWT signing keys: the active one signs (its id is the token's `kid`), all of them verify."""
        return _key_ring(self.jwt_keys_text.get_secret_value(), self.jwt_secret.get_secret_value(),
                         DEV_JWT_SECRET, "JWT_KEYS")

    @property
    def data_keys(self) -> KeyRing:
        """Data-encryption keys: the active one encrypts (its id prefixes the ciphertext), all decrypt."""
        return _key_ring(self.data_encryption_keys_text.get_secret_value(),
                         self.data_encryption_key.get_secret_value(), DEV_DATA_KEY, "DATA_ENCRYPTION_KEYS")

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
        for keys_name, single_name, ring in (("JWT_KEYS", "JWT_SECRET", self.jwt_keys),
                                             ("DATA_ENCRYPTION_KEYS", "DATA_ENCRYPTION_KEY", self.data_keys)):
            text = (self.jwt_keys_text if keys_name == "JWT_KEYS" else self.data_encryption_keys_text)
            in_set = {kid for kid, _ in parse_key_set(text.get_secret_value(), keys_name)}
            for kid, value in ring.keys:
                # the legacy key came from the single variable unless the set itself names it
                name = f"{keys_name} key {kid!r}" if kid in in_set else single_name
                if value in (DEV_JWT_SECRET, DEV_DATA_KEY) or "change-me" in value:
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
