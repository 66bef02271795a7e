"""Server settings from flags, the environment (`APISERVER_*`) and an optional YAML file.

Precedence, highest first: command-line flags, environment, config file, defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APISERVER_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    admin_token: SecretStr | None = None
    kek_file: Path | None = None  # default: <data_dir>/kek
    kek: SecretStr | None = None  # "<id>:<base64 key>[,...]", the last one active; instead of a file
    dek_rotation_seconds: float = Field(86400.0, gt=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = Field(3 * 1024 * 1024, gt=0)
    event_window: int = Field(50_000, gt=0)
    continue_ttl_seconds: float = Field(900.0, gt=0)
    log_level: str = "INFO"

    config_file: Path | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "apiserver.db"

    @property
    def kek_path(self) -> Path:
        return self.kek_file or self.data_dir / "kek"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple:
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
