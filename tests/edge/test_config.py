"""EdgeSettings: the example configs parse, env overrides, refusals, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.parametrize("name", ["station.toml", "bin.toml"])
def test_example_configs_parse(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALINMAS_EDGE_MQTT__PASSWORD", "a-real-device-password")
    settings = EdgeSettings.load(DEPLOY / name)
    assert settings.environment == "production"
    assert settings.source_file == DEPLOY / name
    assert settings.mqtt.password.get_secret_value() == "a-real-device-password"


def test_station_example_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALINMAS_EDGE_MQTT__PASSWORD", "a-real-device-password")
    s = EdgeSettings.load(DEPLOY / "station.toml")
    assert s.station is not None
    assert s.station.scale_port == "/dev/salinmas-scale"
    assert s.station.category_buttons["plastic-pet"] == 6
    assert s.outbox.path == Path("/var/lib/salinmas/outbox.db")
    b = EdgeSettings.load(DEPLOY / "bin.toml")
    assert [x.bin_id for x in b.bins] == ["bin-pasar01-a", "bin-pasar01-b"]
    assert b.station is None


def test_production_refuses_placeholder_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALINMAS_EDGE_MQTT__PASSWORD", "changeme")
    with pytest.raises(ValueError, match="placeholder"):
        EdgeSettings.load(DEPLOY / "station.toml")


def test_unknown_key_refused(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[edge]\ndevice_id = "st-x1"\nsatation = 1\n[edge.station]\n')
    with pytest.raises(ValueError, match="satation"):
        EdgeSettings.load(f)


def test_needs_a_role(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[edge]\ndevice_id = "st-x1"\n')
    with pytest.raises(ValueError, match="station"):
        EdgeSettings.load(f)


def test_bin_margin_must_be_inside_depth() -> None:
    bad = {"bin_id": "bin-a1", "trigger_pin": 1, "echo_pin": 2, "empty_depth_mm": 100}
    with pytest.raises(ValueError, match="full_margin_mm"):
        EdgeSettings(device_id="bin-x1", bins=[{**bad, "full_margin_mm": 100}])


def test_redacted_hides_the_password() -> None:
    s = EdgeSettings(device_id="st-x1", station={}, mqtt={"password": "s3cret-pw"})
    assert "s3cret-pw" not in repr(s.redacted())
    assert s.redacted()["mqtt"]["password"] == "**********"


def test_log_level_reaches_the_agents_own_loggers() -> None:
    """mutant: the level set on the "salinmas" logger only (as before) -> the agent's
    "edge.*" modules stay at INFO and a station's DEBUG shows nothing, fails."""
    import logging

    from edge.agent import apply_log_level

    saved = {n: logging.getLogger(n).level for n in ("edge", "salinmas")}
    try:
        apply_log_level("DEBUG")
        assert logging.getLogger("edge.agent").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("edge.link").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("salinmas.mqtt").isEnabledFor(logging.DEBUG)
        apply_log_level("WARNING")
        assert not logging.getLogger("edge.agent").isEnabledFor(logging.INFO)
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)
