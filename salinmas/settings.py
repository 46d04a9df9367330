"""Settings machinery shared by every Salinmas process.

Each process declares one ``Settings`` class (a subclass of :class:`ProcessSettings`)
with its own environment prefix. Values come from, highest first: keyword arguments,
environment variables (``SALINMAS_<PROCESS>_<FIELD>``, nested with ``__``), a TOML file
(``--config FILE`` or ``SALINMAS_CONFIG``), then the defaults. Nothing is read at import
time: call ``SettingsClass.load(...)``.

Outside ``environment = "development"`` a secret that is empty or a known placeholder
("changeme", "secret", ...) is refused with a clear error, naming it; in a nested table
(``[api.broker]``, ``[ingest.telemetry]`` ...) a placeholder is refused too, while an
empty one is a feature not in use (each feature that needs its secret says so itself,
with :func:`is_placeholder`). The one rule, for every process: :func:`placeholder_secrets`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "admin", "test", "dev", "salinmas"}
)


def is_placeholder(secret: SecretStr | str) -> bool:
    """An empty secret or a known placeholder, whatever its case and surrounding blanks."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return raw.strip().lower() in PLACEHOLDER_SECRETS


def placeholder_secrets(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """Dotted names of the secrets of ``model`` and its nested tables that are placeholders
    (top level: empty too; nested: an empty secret is a feature not in use)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, SecretStr):
            if is_placeholder(value) and (not prefix or value.get_secret_value().strip()):
                yield path
        elif isinstance(value, BaseModel):
            yield from placeholder_secrets(value, f"{path}.")


def _redact(data: dict[str, Any], model: BaseModel) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = "**********"
        elif isinstance(value, BaseModel) and isinstance(data.get(name), dict):
            _redact(data[name], value)


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


#: an IANA time zone name (``Asia/Jakarta``), refused at load time when unknown
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


class _TomlSection(PydanticBaseSettingsSource):
    """Reads one table (``[edge]``, ``[ingest]`` ...) of a TOML file, or the whole file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None, section: str):
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            with path.open("rb") as fh:
                doc = tomllib.load(fh)
            table = doc.get(section, doc) if section else doc
            if not isinstance(table, dict):
                raise ValueError(f"[{section}] in {path} is not a table")
            self._data = table

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        names = set(self.settings_cls.model_fields)
        unknown = set(self._data) - names
        if unknown:
            raise ValueError(f"unknown setting(s) in config file: {', '.join(sorted(unknown))}")
        return dict(self._data)


class ProcessSettings(BaseSettings):
    """Base of every process's settings."""

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__")

    #: the TOML table this process reads, e.g. "edge"
    toml_section: ClassVar[str] = ""
    _config_file: ClassVar[Path | None] = None

    environment: Literal["development", "production"] = "development"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TomlSection(settings_cls, cls._config_file, cls.toml_section)
        return (init_settings, env_settings, toml, file_secret_settings)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Self:
        """Build the settings from overrides, environment, TOML file and defaults."""
        path = config_file or os.environ.get("SALINMAS_CONFIG") or None
        cls._config_file = Path(path) if path else None
        try:
            return cls(**overrides)
        finally:
            cls._config_file = None

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.environment == "development":
            return self
        found = list(placeholder_secrets(self))
        if found:
            raise ValueError(
                f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} empty or a "
                f"placeholder; set a real secret for "
                f"environment={self.environment!r}"
            )
        return self

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret (nested too) replaced by ``'**********'``."""
        out = self.model_dump(mode="json")
        _redact(out, self)
        return out
