"""Settings of the ingest process (``[ingest]`` in the TOML file, ``SALINMAS_INGEST_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from cloud.telemetry import TelemetrySettings
from salinmas.settings import ProcessSettings


class IngestSettings(ProcessSettings):
    """Where ingest reads from (MQTT), and where it writes (ledger, telemetry).

    Production: MQTT 5 to Mosquitto with a shared subscription (``share_group``) so
    several workers split the load, a persistent session (``session_expiry_s``) so
    nothing is lost while a worker restarts, PostgreSQL and InfluxDB. The embedded demo:
    ``mqtt_protocol = "3.1.1"`` and ``share_group = ""`` for amqtt, SQLite for both stores.
    """

    model_config = SettingsConfigDict(env_prefix="SALINMAS_INGEST_")
    toml_section: ClassVar[str] = "ingest"

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str = "salinmas-ingest"
    mqtt_password: SecretStr = SecretStr("")
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    mqtt_keepalive_s: int = Field(default=30, ge=5)
    #: read the MQTT socket through a 64 KiB buffer (see cloud/ingest/readahead.py)
    mqtt_read_ahead: bool = True
    #: reconnect back-off (jittered, doubling): back within seconds after a broker restart
    mqtt_backoff_min_s: float = Field(default=0.25, gt=0)
    mqtt_backoff_max_s: float = Field(default=5.0, gt=0)
    #: must be unique per worker and stable across restarts (the persistent session)
    client_id: str = "salinmas-ingest-1"
    #: ``$share/<group>/...`` subscriptions; empty/None for brokers without them
    share_group: str | None = "ingest"
    session_expiry_s: int = Field(default=24 * 3600, ge=0)
    #: MQTT 5 ReceiveMaximum: un-acked messages the broker may send us at once
    receive_maximum: int = Field(default=5000, ge=1, le=65535)

    ledger_url: str = "sqlite:///var/ledger.db"
    migrate_on_start: bool = True
    telemetry: TelemetrySettings = TelemetrySettings()

    #: most messages per transaction, and how long to wait for more once one arrived
    batch_max: int = Field(default=2000, ge=1)
    batch_linger_s: float = Field(default=0.05, ge=0)
    #: ... but only while the stream is dense: lingering stops as soon as no message came
    #: for this long (a trickle is processed at once; ``batch_gap_s >= batch_linger_s``
    #: lingers the whole ``batch_linger_s`` whatever arrives)
    batch_gap_s: float = Field(default=0.002, ge=0)
    #: a bin's latest level waits in memory at most this long before being written
    #: (decisions — pickups, alerts, re-arming — are written at once)
    state_write_interval_s: float = Field(default=5.0, ge=0)
    publish_receipts: bool = True
    #: an event whose NTP-synchronised device time is further ahead of the receive time
    #: is refused (dead letter ``clock_ahead``; a weigh-in's station gets a rejected receipt)
    max_clock_ahead_s: float = Field(default=300.0, gt=0)
    #: confirm stored events to their devices (``ack``, seq ranges) so they forget them
    publish_confirmations: bool = True
    #: an ack waits this long for more seqs of its device before it is published
    confirm_interval_s: float = Field(default=0.5, ge=0)
    #: publish a new epoch on salinmas/v1/cloud/ingest after every subscribe: devices
    #: then re-send what the cloud has not confirmed (a broker restart drops it)
    announce: bool = True
    #: write this worker's heartbeat (and look for silent peers) this often
    heartbeat_s: float = Field(default=5.0, gt=0)
    #: a peer of the share group silent this long has its session taken over (0: never)
    takeover_after_s: float = Field(default=30.0, ge=0)
    #: a takeover's drain ends after this long without a message
    takeover_idle_s: float = Field(default=2.0, gt=0)
    #: housekeeping between batches: silent devices -> offline, old dead letters pruned
    maintenance_interval_s: float = Field(default=60.0, gt=0)
    #: a device silent this long is marked offline (0 disables)
    silent_after_s: int = Field(default=900, ge=0)
    #: dead letters older than this are deleted (0 keeps them forever)
    dead_letter_retention_days: int = Field(default=90, ge=0)
    log_level: str = "INFO"
    #: verification before money (cloud/integrity.py): "enforce" holds unsigned weigh-ins
    #: and whatever a key, build or configuration an operator has not approved signed;
    #: "trust_first_use" (development, the demo) credits unsigned weigh-ins of stations
    #: without a key and approves a station's first key and new builds when first seen.
    #: Default: enforce in production, trust_first_use in development.
    integrity: Literal["enforce", "trust_first_use"] | None = None
    #: an unsynchronised weigh-in waits this long for its boot's time (cloud/clock.py)
    clock_wait_s: float = Field(default=3600.0, ge=0)

    @property
    def share(self) -> str | None:
        return self.share_group or None

    @property
    def enforce_integrity(self) -> bool:
        if self.integrity is None:
            return self.environment == "production"
        return self.integrity == "enforce"

    @model_validator(mode="after")
    def _enforced_in_production(self) -> Self:
        if self.environment == "production" and self.integrity == "trust_first_use":
            raise ValueError("integrity = 'trust_first_use' is for development only")
        return self
