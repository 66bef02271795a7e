"""Server settings from flags, the environment (`APISERVER_*`) and an optional YAML file.

Precedence, highest first: command-line flags, environment, config file, defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APISERVER_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    admin_token: SecretStr | None = None
    kek_file: Path | None = None  # default: <data_dir>/kek
    kek: SecretStr | None = None  # "<id>:<base64 key>[,...]", the last one active; instead of a file
    # A Kubernetes KMS v2 plugin's Unix socket: the plugin wraps the data keys instead of local KEKs.
    kms_socket: str | None = None
    kms_timeout_seconds: float = Field(3.0, gt=0)  # each call to the plugin (kube-apiserver's default)
    kms_status_seconds: float = Field(10.0, ge=0)  # how often the plugin's Status is polled; 0: only at start
    # While the plugin does not answer, data keys unwrapped before keep serving this long.
    kms_grace_seconds: float = Field(180.0, ge=0)
    # postgresql://user:password@host/db: replicas share one store there (default: SQLite in data_dir).
    database_url: SecretStr | None = None
    dek_rotation_seconds: float = Field(86400.0, gt=0)
    # A data key that protects nothing is destroyed once its successor is this old: writes sealed
    # just before a rotation may still be on their way to the database with the old key.
    kek_watch_seconds: float = Field(2.0, ge=0)  # how often the KEK file is checked for changes; 0: only SIGHUP
    dek_retire_grace_seconds: float = Field(60.0, ge=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False  # generate (once) a certificate for loopback into <data_dir>/tls
    max_body_bytes: int = Field(3 * 1024 * 1024, gt=0)
    # Slow or greedy clients: a request's headers and its body must arrive within these deadlines, and
    # open connections are bounded per client address and in total (docs/limits.md).
    header_timeout_seconds: float = Field(10.0, gt=0)
    body_timeout_seconds: float = Field(60.0, gt=0)
    max_connections: int = Field(1024, ge=1)
    max_connections_per_address: int = Field(256, ge=1)
    event_window: int = Field(50_000, gt=0)
    continue_ttl_seconds: float = Field(900.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object a line (docs/observability.md)
    metrics_anonymous: bool = False  # /metrics without credentials, for scrapers on a private network
    # The asyncio event loop implementation: the standard one, or uvloop (bench/README.md compares them).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    access_log: bool = (
        False  # as kube-apiserver: off by default; one INFO line per request costs ~40% of a GET (bench/README.md)
    )
    # Audit targets (docs/audit.md): file paths, "-" (stdout), "unix:PATH", "syslog[:PATH]"; a record
    # must reach at least one. Default <data_dir>/audit.log. The environment separates them by commas.
    audit_log: Annotated[list[str], NoDecode] = Field(default_factory=list)
    audit_fsync: bool = True  # fdatasync each batch of records to a file target before its requests answer
    auth_failure_limit: int = Field(20, ge=1)  # rejected credentials per address per window before 429
    auth_failure_window_seconds: float = Field(10.0, gt=0)
    # The decrypter identity of values written through the InfluxDB facade (a label value).
    influxdb_decrypter: str = Field("influxdb", pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    cloudflare_max_stores: int = Field(1, ge=0)  # Secrets Store stores per account (Cloudflare's beta limit)
    cloudflare_secrets_quota: int = Field(100, ge=0)  # Secrets Store secrets per account, shown by /quota

    ui_session_idle_seconds: float = Field(1800.0, gt=0)  # a browser session ends after this long unused
    # Grafana's decrypt service over gRPC on this port (same host, same TLS settings); off when unset.
    grpc_port: int | None = Field(None, ge=0, le=65535)
    # JWKS documents whose keys are trusted to sign Grafana access tokens (besides the server's own).
    grafana_jwks: list[Path] = Field(default_factory=list)

    # The aws keeper (docs/aws-keeper.md). AWS credentials and endpoints come from the standard AWS
    # variables and files, never from here.
    aws_timeout_seconds: float = Field(5.0, gt=0)  # connect and read timeout of each AWS call
    aws_max_workers: int = Field(8, ge=1)  # threads that may wait on AWS at once
    keeper_cleanup_seconds: float = Field(10.0, gt=0)  # how often deleted values' AWS secrets are looked for
    keeper_cleanup_attempts: int = Field(10, ge=1)  # tries to delete one AWS secret before an operator must
    keeper_health_seconds: float = Field(60.0, gt=0)  # how often active aws keepers are checked again
    keeper_create_grace_seconds: float = Field(300.0, gt=0)  # after this, a create that never committed is undone

    config_file: Path | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "apiserver.db"

    @property
    def kek_path(self) -> Path:
        return self.kek_file or self.data_dir / "kek"

    @property
    def audit_targets(self) -> list[str]:
        return self.audit_log or [str(self.data_dir / "audit.log")]

    @field_validator("audit_log", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple:
        return init_settings, env_settings, _ConfigFile(settings_cls, init_settings, env_settings)


class _ConfigFile(PydanticBaseSettingsSource):
    """The YAML file named by `--config` (or APISERVER_CONFIG_FILE)."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = None
        for source in self._sources:
            path = source().get("config_file") or path
        if not path:
            return {}
        return YamlConfigSettingsSource(self.settings_cls, yaml_file=Path(path))()
