"""Settings of the edge agent: one ``[edge]`` table in ``/etc/salinmas/station.toml``.

Values come from (highest first) keyword arguments, the environment
(``SALINMAS_EDGE_<FIELD>``, nested with ``__``, e.g. ``SALINMAS_EDGE_MQTT__PASSWORD``),
the TOML file given with ``--config`` (or ``SALINMAS_CONFIG``), then these defaults.
Unknown keys are refused, so a typo in the field never passes silently.

A Pi can be a scale station (``[edge.station]``), host bins (``[[edge.bins]]``), or both.
The example configurations in ``deploy/`` are the reference; a test parses them.

Example::

    settings = EdgeSettings.load("/etc/salinmas/station.toml")
    print(settings.redacted())
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from contract.topics import DEVICE_ID_PATTERN
from salinmas.settings import ProcessSettings, TimeZoneName, is_placeholder

DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
Pin = Annotated[int | str, Field(description="BCM GPIO number, or a gpiozero pin name")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    """The broker connection. The MQTT username is always the device id."""

    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    password: SecretStr = SecretStr("")
    tls: bool = False
    #: CA bundle for TLS; ``None`` uses the system's trust store
    ca_file: Path | None = None
    keepalive_s: int = Field(default=60, ge=5, le=3600)
    #: most messages published but not yet acknowledged by the broker (PUBACK)
    max_inflight: int = Field(default=20, ge=1, le=1000)
    #: reconnect back-off: first delay, ceiling (exponential, with full jitter)
    backoff_min_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)


class OutboxSettings(_Section):
    """The store-and-forward queue on the SD card."""

    path: Path = Path("/var/lib/salinmas/outbox.db")
    #: most events held; weigh-ins beyond it are refused, telemetry is thinned
    capacity: int = Field(default=50_000, ge=1)
    #: share of the capacity telemetry (fill, health) may use; the rest is kept for weigh-ins
    telemetry_share: float = Field(default=0.5, gt=0, le=1)


class LineConfig(_Section):
    """Serial line settings of the indicator."""

    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 2] = 1

    def as_tuple(self) -> tuple[int, int, str, int]:
        return (self.baudrate, self.bytesize, self.parity, self.stopbits)


class StationSettings(_Section):
    """A scale station: indicator, card reader, category buttons and feedback."""

    #: stable name from the udev rule, e.g. /dev/salinmas-scale
    scale_port: str = "/dev/salinmas-scale"
    protocol: str = "mtsics"
    #: explicit line settings, or "auto" to detect them at start-up, or "default"
    line: LineConfig | Literal["auto", "default"] = "default"
    #: seconds between polls for polled protocols; ``None`` for a streaming indicator
    poll_interval_s: float | None = Field(default=None, gt=0)
    division_g: int = Field(default=10, gt=0)
    #: the scale's capacity (Max) in grams, as on its data plate (part of the configuration
    #: the station reports and the cloud approves)
    capacity_g: int | None = Field(default=None, gt=0, le=10_000_000)
    #: the scale's legal verification mark (tera), e.g. "UPTD Metrologi Banyumas 2026-03 #0412";
    #: changing it is a calibration event in the device's configuration log
    calibration: str | None = Field(default=None, max_length=120, pattern=r"^[ -~]*$")
    min_divisions: int = Field(default=20, ge=1)
    #: the software stability window (with the indicator's stable flag)
    stable_window_s: float = Field(default=1.0, gt=0)
    min_stable_samples: int = Field(default=3, ge=2)
    card_port: str | None = None
    card_kind: Literal["rdm6300", "scanner"] = "rdm6300"
    #: a presented card stays selected this long after the last weigh-in or tap
    card_session_s: float = Field(default=120.0, gt=0)
    default_category: Category = "mixed"
    #: category code -> button pin
    category_buttons: dict[Category, Pin] = Field(default_factory=dict)
    #: LED/buzzer pins; unset ones are simply absent
    led_green_pin: Pin | None = None
    led_red_pin: Pin | None = None
    buzzer_pin: Pin | None = None


class BinSettings(_Section):
    """One bin's ultrasonic sensor (HC-SR04) and lid switch."""

    bin_id: DeviceId
    trigger_pin: Pin
    echo_pin: Pin
    #: distance from the sensor to the empty bin's floor
    empty_depth_mm: int = Field(gt=0, le=10_000)
    #: distance below the sensor that counts as 100 % full
    full_margin_mm: int = Field(default=50, ge=0, le=10_000)
    lid_pin: Pin | None = None
    tilt_pin: Pin | None = None
    samples: int = Field(default=5, ge=1, le=31)
    sample_interval_s: float = Field(default=60.0, gt=0)
    #: report when the fill level moved at least this much since the last report
    report_delta_pct: float = Field(default=5.0, ge=0, le=100)
    #: report at least this often even when nothing changed
    heartbeat_s: float = Field(default=900.0, gt=0)

    @model_validator(mode="after")
    def _margin_inside_depth(self) -> Self:
        if self.full_margin_mm >= self.empty_depth_mm:
            raise ValueError("full_margin_mm must be smaller than empty_depth_mm")
        return self


class PrinterSettings(_Section):
    """A thermal ticket printer (ESC/POS) on a serial line or a USB printer device.

    After each receipt the station prints a ticket; a printer without paper or unplugged
    never delays a weigh-in: tickets wait in ``spool`` and print when it is back (and
    can be printed again: ``salinmas edge reprint`` or the ``reprint_button_pin``).
    """

    #: "serial" (RS-232 / USB-serial, e.g. /dev/salinmas-printer) or "file" (a USB printer
    #: the kernel's usblp driver shows as /dev/usb/lp0; no paper-status reply there)
    connection: Literal["serial", "file"] = "serial"
    port: str = "/dev/salinmas-printer"
    baudrate: int = Field(default=9600, gt=0)
    #: python-escpos printer profile (e.g. "TM-T20II"); None = its default
    profile: str | None = Field(default=None, max_length=60)
    #: characters per line (58 mm paper: 32; 80 mm: 48)
    width: int = Field(default=32, ge=24, le=64)
    #: the waste bank's name and address at the top of the ticket
    waste_bank: str = Field(default="Bank Sampah", max_length=64)
    address: str | None = Field(default=None, max_length=64)
    #: category code -> name printed on the ticket (else the code)
    category_names: dict[str, str] = Field(default_factory=dict)
    timezone: TimeZoneName = "Asia/Jakarta"
    #: tickets waiting for their receipt or for the printer
    spool: Path = Path("/var/lib/salinmas/tickets.db")
    #: seconds between tries while the printer is unplugged or out of paper
    retry_s: float = Field(default=10.0, gt=0)
    reprint_button_pin: Pin | None = None


class DisplaySettings(_Section):
    """A character LCD (HD44780, 16x2) on an I2C backpack: shows "Rp 2.640 -> BMS-0001"."""

    i2c_expander: Literal["PCF8574", "MCP23008"] = "PCF8574"
    address: int = Field(default=0x27, ge=0x03, le=0x77)
    #: the I2C bus number (/dev/i2c-1 on a Pi)
    bus: int = Field(default=1, ge=0)
    cols: int = Field(default=16, ge=8, le=40)
    rows: int = Field(default=2, ge=1, le=4)
    #: "package.module:function" returning an SMBus-like object for ``bus`` (simulators)
    bus_factory: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> EdgeSettings:
    """``EdgeSettings.load`` as a plain function (for ``module:function`` entry points)."""
    return EdgeSettings.load(config_file, **overrides)


class EdgeSettings(ProcessSettings):
    """Everything the edge agent reads at start-up (and on a ``reload`` command)."""

    model_config = SettingsConfigDict(
        env_prefix="SALINMAS_EDGE_", extra="forbid", env_nested_delimiter="__"
    )
    toml_section: ClassVar[str] = "edge"

    device_id: DeviceId
    site: str = Field(default="default", max_length=64)
    mqtt: MqttSettings = MqttSettings()
    outbox: OutboxSettings = OutboxSettings()
    station: StationSettings | None = None
    bins: list[BinSettings] = Field(default_factory=list)
    #: the device's Ed25519 key (made here on first start, mode 0600, never leaves the
    #: device) and its configuration log; default: beside the outbox
    key_file: Path | None = None
    health_interval_s: float = Field(default=300.0, gt=0)
    #: an event the broker acknowledged but the cloud has not confirmed (receipt or ack)
    #: after this long, counted while connected, is published again; each further attempt
    #: waits twice as long, up to ``confirm_timeout_max_s``
    confirm_timeout_s: float = Field(default=15.0, gt=0)
    confirm_timeout_max_s: float = Field(default=300.0, gt=0)
    #: deprecated name of ``confirm_timeout_s`` (older station.toml files); wins when set
    receipt_timeout_s: float | None = Field(default=None, gt=0)
    #: "native" on a Pi (lgpio/RPi.GPIO), "mock" for simulators and tests
    pin_factory: Literal["native", "mock"] = "native"
    #: "package.module:function" called at start-up, before any device is opened, as
    #: hook(pin_factory, settings) (or hook(pin_factory) if it takes one argument)
    simulator_hook: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")
    #: file whose existence means NTP has synchronised the clock (systemd-timesyncd)
    clock_sync_flag: Path = Path("/run/systemd/timesync/synchronized")
    #: where the boot id comes from; a random one per process start when unreadable
    boot_id_file: Path = Path("/proc/sys/kernel/random/boot_id")
    #: where a boot id is kept when the kernel's is unreadable (a tmpfs: gone at reboot)
    boot_id_fallback: Path | None = Path("/run/salinmas/boot_id")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "package.module:function" called with each receipt (a small station display)
    display_hook: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")
    #: a ticket printer and a character display at the station (edge/printer.py, display.py)
    printer: PrinterSettings | None = None
    display: DisplaySettings | None = None

    _source_file: Path | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Self:
        """Load as :meth:`ProcessSettings.load`, remembering the file for ``reload``."""
        settings = super().load(config_file, **overrides)
        path = config_file or os.environ.get("SALINMAS_CONFIG") or None
        settings._source_file = Path(path) if path else None
        return settings

    @property
    def key_path(self) -> Path:
        """Where the device key lives (``key_file``, else ``device.key`` beside the outbox)."""
        return self.key_file or self.outbox.path.parent / "device.key"

    @property
    def source_file(self) -> Path | None:
        """The TOML file these settings were loaded from (re-read by ``reload``)."""
        return self._source_file

    @model_validator(mode="after")
    def _has_a_role(self) -> Self:
        if self.station is None and not self.bins:
            raise ValueError("configure [edge.station], [[edge.bins]], or both")
        ids = [b.bin_id for b in self.bins]
        if len(ids) != len(set(ids)):
            raise ValueError("bin_id values must be unique")
        return self

    @property
    def confirm_timeout(self) -> float:
        """``confirm_timeout_s``, or the deprecated ``receipt_timeout_s`` when given."""
        return self.receipt_timeout_s or self.confirm_timeout_s

    @model_validator(mode="after")
    def _real_password_in_production(self) -> Self:
        if self.environment != "development" and is_placeholder(self.mqtt.password):
            raise ValueError(
                "mqtt.password is empty or a placeholder; set the device's password "
                "(SALINMAS_EDGE_MQTT__PASSWORD) for environment='production'"
            )
        return self
