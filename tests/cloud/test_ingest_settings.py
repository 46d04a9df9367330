"""Ingest settings: the sample configuration parses; secrets are refused when missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import cloud.ingest
from cloud.ingest import IngestSettings, subscriptions

SAMPLE = Path(cloud.ingest.__file__).parent / "ingest.sample.toml"


def test_sample_config_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALINMAS_INGEST_MQTT_PASSWORD", "a-real-long-secret")
    s = IngestSettings.load(SAMPLE)
    assert s.environment == "production"
    assert s.telemetry.backend == "influx"
    assert s.share == "ingest"
    assert s.redacted()["mqtt_password"] == "**********"


def test_production_without_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALINMAS_INGEST_MQTT_PASSWORD", raising=False)
    with pytest.raises(ValidationError, match="mqtt_password"):
        IngestSettings.load(SAMPLE)


def test_environment_overrides_nested_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALINMAS_INGEST_TELEMETRY__BACKEND", "sqlite")
    assert IngestSettings.load().telemetry.backend == "sqlite"


def test_subscriptions_shared_or_plain() -> None:
    assert subscriptions("ingest") == [
        "$share/ingest/salinmas/v1/dev/+/weighin",
        "$share/ingest/salinmas/v1/dev/+/fill",
        "$share/ingest/salinmas/v1/dev/+/health",
        "$share/ingest/salinmas/v1/dev/+/config",  # a station's configuration log
        "$share/ingest/salinmas/v1/dev/+/status",
    ]
    assert subscriptions(None)[0] == "salinmas/v1/dev/+/weighin"
