"""The settings machinery every process shares: sources, precedence, secret refusal."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from salinmas.settings import ProcessSettings


class DemoSettings(ProcessSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALINMAS_TESTPROC_", extra="forbid", env_nested_delimiter="__"
    )
    toml_section: ClassVar[str] = "testproc"

    port: int = 1
    password: SecretStr = SecretStr("")


def test_precedence_overrides_env_file_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "salinmas.toml"
    cfg.write_text('[testproc]\nport = 3\npassword = "from-file"\n[other]\nport = 99\n')
    assert DemoSettings.load().port == 1
    assert DemoSettings.load(cfg).port == 3
    monkeypatch.setenv("SALINMAS_TESTPROC_PORT", "4")
    assert DemoSettings.load(cfg).port == 4
    assert DemoSettings.load(cfg, port=5).port == 5
    monkeypatch.setenv("SALINMAS_CONFIG", str(cfg))
    assert DemoSettings.load().password.get_secret_value() == "from-file"


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "salinmas.toml"
    cfg.write_text("[testproc]\nprot = 3\n")
    with pytest.raises(ValueError, match="prot"):
        DemoSettings.load(cfg)


@pytest.mark.parametrize("secret", ["", "changeme", "Secret", " password "])
def test_placeholder_secrets_are_refused_outside_development(secret: str) -> None:
    assert DemoSettings.load(password=secret).environment == "development"
    with pytest.raises(ValidationError, match="password is empty or a placeholder"):
        DemoSettings.load(environment="production", password=secret)


def test_real_secret_passes_and_is_redacted() -> None:
    s = DemoSettings.load(environment="production", password="k7#Lq9-vX2!rT4")
    assert s.redacted()["password"] == "**********"
    assert "k7#Lq9" not in repr(s)


class _Broker(BaseModel):
    host: str = "localhost"
    password: SecretStr = SecretStr("")


class NestedSettings(ProcessSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALINMAS_TESTNEST_", extra="forbid", env_nested_delimiter="__"
    )
    toml_section: ClassVar[str] = "testnest"

    password: SecretStr = SecretStr("k7#Lq9-vX2!rT4")
    broker: _Broker = _Broker()


@pytest.mark.parametrize("secret", ["changeme", " Secret "])
def test_a_nested_placeholder_is_refused_by_its_dotted_name(secret: str) -> None:
    """mutant: the check looks at the top level only -> a nested 'changeme' loads -> fails"""
    assert NestedSettings.load(broker={"password": secret}).environment == "development"
    with pytest.raises(ValidationError, match=r"broker\.password is empty or a placeholder"):
        NestedSettings.load(environment="production", broker={"password": secret})


def test_a_nested_empty_secret_is_a_feature_not_in_use_and_secrets_are_redacted() -> None:
    s = NestedSettings.load(environment="production")
    assert s.broker.password.get_secret_value() == ""
    real = NestedSettings.load(environment="production", broker={"password": "u8$Wm2-pQ7!zK1"})
    assert real.redacted()["broker"] == {"host": "localhost", "password": "**********"}
