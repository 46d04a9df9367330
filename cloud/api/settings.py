"""Settings of the API process: the ``[api]`` table, env prefix ``SALINMAS_API_``.

Example ``salinmas.toml``::

    [api]
    environment = "production"
    ledger_url = "postgresql://salinmas@db/salinmas"
    jwt_secret = "..."                 # or SALINMAS_API_JWT_SECRET
    host = "0.0.0.0"
    port = 8000
    timezone = "Asia/Jakarta"
    cors_origins = []                  # CORS stays off unless origins are listed

    [api.mqtt]                         # commands to devices and the live stream
    host = "broker.local"
    username = "salinmas-api"
    password = "..."                   # or SALINMAS_API_MQTT__PASSWORD

    [api.telemetry]                    # the store ingest writes; the API only reads
    backend = "influx"
    influx_url = "http://influx:8086"

    [api.map]                          # the operator's map; no tiles_url = points only
    tiles_url = "http://tiles.bank.local/{z}/{x}/{y}.png"
    attribution = "© OpenStreetMap contributors"

    [api.routing]                      # collectors' motorbike routes (docs/routing.md)
    matrix = "osrm"                    # "straight" (default) | "osrm" | "valhalla"
    url = "http://osrm.local:5000"

    [api.doorstep]                     # households' pickups at the door (JEKNYONG)
    min_pickup_g = 2000                # the least a household may ask to be picked up

    [api.broker]                       # device accounts: Mosquitto's dynamic-security
    username = "salinmas-admin"        # plugin, through its control topic
    password = "..."                   # or SALINMAS_API_BROKER__PASSWORD

There is no built-in ``jwt_secret``: the API refuses to start without one of at least 32
characters (in every environment; the demo generates one into its data directory).
Outside ``environment = "development"`` a placeholder MQTT password is refused too.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from cloud.api.clientaddr import parse_networks
from cloud.doorstep import DoorstepSettings
from cloud.payouts import DEFAULT_TWO_PERSON_RP
from cloud.pricing import MAX_RP_PER_KG
from cloud.routing import RoutingSettings
from cloud.telemetry import TelemetrySettings
from cloud.throttle import Limit, ThrottlePolicy
from salinmas.settings import ProcessSettings, is_placeholder


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiMqttSettings(_Section):
    """The API's own broker connection (service account with role ``api``)."""

    enabled: bool = True
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = "salinmas-api"
    password: SecretStr = SecretStr("")
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    #: how long a command publish may wait for the broker's PUBACK
    publish_timeout_s: float = Field(default=5.0, gt=0, le=60)


class DisbursementSettings(_Section):
    """Payouts by bank file and by payment provider (:mod:`cloud.disbursement`).

    ``provider_url`` empty: no provider (e-wallet and bill payouts cannot be sent).
    ``callback_url``: this API's ``/api/v1/disbursements/callback`` as the provider
    reaches it. ``debit_account``: the programme's account the bank file debits.
    """

    provider_url: str = ""
    provider_key: SecretStr = SecretStr("")
    callback_secret: SecretStr = SecretStr("")
    callback_url: str = ""
    debit_account: str = ""


class BrokerAccountsSettings(_Section):
    """Where provisioning creates and deletes device accounts.

    ``backend = "mosquitto"``: Mosquitto's dynamic-security plugin, over its control topic
    on the broker of ``[api.mqtt]`` (host, port, TLS), as the ``admin`` service account
    ``username``/``password``. ``backend = "file"``: the embedded demo broker's accounts
    document at ``path``.
    """

    backend: Literal["mosquitto", "file"] = "mosquitto"
    username: str = "salinmas-admin"
    password: SecretStr = SecretStr("")
    path: Path | None = None
    #: how long an account change may wait for the broker's answer
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class DatabaseSettings(_Section):
    """The API's connection pool to the ledger database (per worker process)."""

    #: connections kept open
    pool_size: int = Field(default=10, ge=1, le=500)
    #: extra connections opened under load (closed again when idle)
    max_overflow: int = Field(default=5, ge=0, le=500)
    #: seconds a thread waits for a pooled connection before the request answers 503
    #: (a safety net: admission control keeps the pool from running dry)
    pool_timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: test each pooled connection before use (one extra round trip per checkout);
    #: off, a connection broken by a database restart fails one request with 503
    pre_ping: bool = False

    @property
    def capacity(self) -> int:
        return self.pool_size + self.max_overflow


class AdmissionSettings(_Section):
    """How many requests a worker serves at once, and how long the rest may wait.

    Every request that may touch the database holds one of ``threads`` slots (default:
    the pool's capacity less ``reserved_connections``); it waits at most
    ``queue_wait_s`` for one, else answers 503 with ``Retry-After``. Database work runs on
    a thread pool of the same size, never on the event loop, so ``/health`` and the live
    streams keep answering however busy the database is.

    ``queue_wait_s`` is the caller's patience, not a latency target: the dashboard and
    the phones show a 503 as an error to click again, so refusing a request that would
    have been answered a moment later only turns a slow answer into a failed one (200
    clients on one 2-core box wait 1-2.5 s each, ``docs/benchmarks.md``). Past 10 s the
    queue is not a burst but more work than the worker can do: the wait ends with a 503
    then, and ``max_queue`` bounds how many wait at all.
    """

    threads: int | None = Field(default=None, ge=1, le=1000)
    #: connections kept free of requests (the live stream's poller and re-checks)
    reserved_connections: int = Field(default=2, ge=0, le=50)
    queue_wait_s: float = Field(default=10.0, ge=0, le=60)
    #: requests waiting beyond this many answer 503 at once
    max_queue: int = Field(default=1000, ge=0, le=100_000)
    retry_after_s: int = Field(default=1, ge=1, le=3600)


class LoginThrottleSettings(_Section):
    """Login attempts counted per key before they are checked (:mod:`cloud.throttle`).

    Each key allows ``*_free`` failures within ``window_s``; then every failure doubles
    the wait before the key's next attempt, from ``base_delay_s`` up to ``*_max_delay_s``.
    The account's cap is low on purpose: strangers cannot lock the real user out.
    """

    window_s: int = Field(default=900, ge=1)
    base_delay_s: float = Field(default=1.0, gt=0, le=3600)
    #: one account from one address
    pair_free: int = Field(default=5, ge=1)
    pair_max_delay_s: int = Field(default=900, ge=1)
    #: one account from anywhere
    account_free: int = Field(default=10, ge=1)
    account_max_delay_s: int = Field(default=60, ge=1)
    #: one address, any account (PIN spraying)
    source_free: int = Field(default=20, ge=1)
    source_max_delay_s: int = Field(default=3600, ge=1)
    #: one IPv4 /24 or IPv6 /64
    network_free: int = Field(default=100, ge=1)
    network_max_delay_s: int = Field(default=3600, ge=1)

    def policy(self) -> ThrottlePolicy:
        base = timedelta(seconds=self.base_delay_s)

        def limit(free: int, cap_s: int) -> Limit:
            return Limit(free, timedelta(seconds=cap_s), base)

        return ThrottlePolicy(
            window=timedelta(seconds=self.window_s),
            pair=limit(self.pair_free, self.pair_max_delay_s),
            account=limit(self.account_free, self.account_max_delay_s),
            source=limit(self.source_free, self.source_max_delay_s),
            network=limit(self.network_free, self.network_max_delay_s),
        )


class MapSettings(_Section):
    """The operator's map: tiles from a tile server, or none (points on a plain background).

    ``tiles_url`` is a Leaflet URL template, e.g. a local tile server
    ``"http://tiles.bank.local/{z}/{x}/{y}.png"``; the browser loads the tiles itself.
    Leave it unset on a site without internet: the map still places every point.
    """

    tiles_url: str | None = None
    #: shown in the map's corner (tile servers' licences require it)
    attribution: str = ""
    max_zoom: int = Field(default=19, ge=1, le=22)
    #: where the map looks when nothing has coordinates yet (Purwokerto, Banyumas)
    center_lat: float = Field(default=-7.42, ge=-90, le=90)
    center_lon: float = Field(default=109.23, ge=-180, le=180)
    zoom: int = Field(default=12, ge=1, le=22)

    @field_validator("tiles_url")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("http://", "https://", "/")) or not all(
            part in v for part in ("{z}", "{x}", "{y}")
        ):
            raise ValueError("tiles_url must be an http(s) URL template with {z}, {x} and {y}")
        return v


class ApiSettings(ProcessSettings):
    """Everything the API process reads; build with :meth:`ApiSettings.load`."""

    model_config = SettingsConfigDict(
        env_prefix="SALINMAS_API_", extra="forbid", env_nested_delimiter="__"
    )
    toml_section: ClassVar[str] = "api"

    ledger_url: str = "sqlite:///salinmas-ledger.db"
    #: run the Alembic migrations at start-up (the embedded profile)
    migrate_on_start: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: signs access tokens; required, at least 32 characters (never committed)
    jwt_secret: SecretStr | None = None
    #: an access token's life; a refresh (``POST /auth/refresh``) gets the next one
    access_token_lifetime_s: int = Field(default=900, ge=30, le=24 * 3600)
    #: how long a staff login lasts (its refresh token), at most
    session_lifetime_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    #: a household's login lasts shorter (shared phones)
    household_session_lifetime_s: int = Field(default=3600, ge=60, le=30 * 24 * 3600)
    #: a live-stream ticket must be used within this many seconds (and only once)
    stream_ticket_lifetime_s: int = Field(default=30, ge=1, le=600)
    #: an open stream re-checks its caller (logged out, deactivated, ...) this often
    stream_recheck_s: float = Field(default=5.0, gt=0, le=300)
    #: the refresh-token cookie carries ``Secure`` (default: in production)
    cookie_secure: bool | None = None
    timezone: str = "Asia/Jakarta"
    #: origins allowed by CORS; empty = CORS off (the dashboard is served same-origin)
    cors_origins: list[str] = Field(default_factory=list)
    #: seconds between the live stream's polls of the ledger (weigh-ins, alerts, ...)
    stream_poll_s: float = Field(default=1.0, gt=0, le=60)
    #: seconds between SSE keep-alive comments
    stream_keepalive_s: float = Field(default=15.0, gt=0, le=300)
    #: API worker processes (uvicorn workers) on ``host:port``
    workers: int = Field(default=1, ge=1, le=64)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    #: seconds a verified caller (user or household row) is cached for reads; writes
    #: and the live stream always re-read it; changes made through this worker drop it
    principal_cache_ttl_s: float = Field(default=2.0, ge=0, le=60)
    #: payouts from this amount on need two people: the approver is not the requester,
    #: the cashier who hands out the cash not the approver (:mod:`cloud.payouts`)
    two_person_payout_rp: int = Field(default=DEFAULT_TWO_PERSON_RP, ge=1, le=10**9)
    #: the highest price per kg an operator may set (:func:`cloud.pricing.set_price`)
    max_price_rp_per_kg: int = Field(default=MAX_RP_PER_KG, ge=1, le=10**9)
    #: uvicorn's per-request access log (a reverse proxy usually keeps one already)
    access_log: bool = True
    #: answer a balance lookup's success without FastAPI's per-request machinery
    #: (:mod:`cloud.api.hotpath`); every refusal still comes from the route
    fast_balance: bool = True
    #: FastAPI's native OpenTelemetry (traces, metrics, logs to the global providers):
    #: off, since nothing here sets a provider and the checks cost ~10 % of a request
    opentelemetry: bool = False
    #: reverse proxies (addresses or networks) whose X-Forwarded-For is believed: the
    #: client is the rightmost hop that is not one of them (empty: the peer is the client)
    trusted_proxies: list[str] = Field(default_factory=list)
    mqtt: ApiMqttSettings = Field(default_factory=ApiMqttSettings)
    broker: BrokerAccountsSettings = Field(default_factory=BrokerAccountsSettings)
    login_throttle: LoginThrottleSettings = Field(default_factory=LoginThrottleSettings)
    #: the telemetry store the charts read (the same one ingest writes)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    #: bank transfer files and the payment provider
    disbursement: DisbursementSettings = Field(default_factory=DisbursementSettings)
    #: the operator's map (tile server)
    map: MapSettings = Field(default_factory=MapSettings)
    #: collectors' routes: travel times and the engine (cloud.routing)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    #: households' pickups at the door: minimum weight, estimates, lateness
    doorstep: DoorstepSettings = Field(default_factory=DoorstepSettings)
    #: the dashboard's files (served at ``/`` when the directory exists)
    static_dir: Path | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        try:
            parse_networks(v)
        except ValueError as exc:
            raise ValueError(f"trusted_proxies: {exc}") from None
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Self:
        secret = self.jwt_secret.get_secret_value().strip() if self.jwt_secret else ""
        if len(secret) < 32 or is_placeholder(secret) or "dev-only" in secret:
            raise ValueError(
                "jwt_secret must be set to a real secret of at least 32 characters (e.g. "
                "SALINMAS_API_JWT_SECRET=$(python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'))"
            )
        if self.admission.threads is not None and self.admission.threads > self.db.capacity:
            raise ValueError("admission.threads may not exceed db.pool_size + db.max_overflow")
        if self.environment == "development":
            return self
        if self.mqtt.enabled and is_placeholder(self.mqtt.password):
            raise ValueError("mqtt.password is empty or a placeholder")
        return self

    @property
    def token_secret(self) -> str:
        assert self.jwt_secret is not None  # the validator refuses a missing one
        return self.jwt_secret.get_secret_value()

    @property
    def threads(self) -> int:
        """Database threads (= admission slots) of one worker."""
        a = self.admission
        return a.threads or max(1, self.db.capacity - a.reserved_connections)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def session_lifetime(self, kind: str) -> timedelta:
        """How long a login of a ``user`` or a ``household`` lasts."""
        s = self.household_session_lifetime_s if kind == "household" else self.session_lifetime_s
        return timedelta(seconds=s)

    @property
    def access_lifetime(self) -> timedelta:
        return timedelta(seconds=self.access_token_lifetime_s)

    @property
    def secure_cookies(self) -> bool:
        return (
            self.cookie_secure
            if self.cookie_secure is not None
            else (self.environment == "production")
        )
