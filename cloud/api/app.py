"""The API application factory and its runner.

>>> app = create_app(ApiSettings.load("salinmas.toml"))      # doctest: +SKIP
>>> run(ApiSettings.load("salinmas.toml"))                   # doctest: +SKIP

Nothing is built at import time: :func:`create_app` makes the ledger engine (and runs
the migrations when ``migrate_on_start``), the broker-file control, the telemetry store
reader and the live hub; the lifespan starts the hub's poller and the MQTT link and
stops them again. The dashboard's files, when ``cloud/api/static/index.html`` exists
(or ``static_dir``), are served at ``/``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from cloud.api import errors, openapi, scope
from cloud.api.clientaddr import parse_networks
from cloud.api.gate import AdmissionMiddleware, Gate, size_thread_pool
from cloud.api.headers import SecurityHeaders, content_security_policy
from cloud.api.hotpath import HotReads
from cloud.api.live import LiveHub
from cloud.api.mqtt import MqttLink, account_store
from cloud.api.principals import PrincipalCache, watch_changes
from cloud.api.routes import (
    accounts,
    audit_log,
    auth,
    bins,
    cases,
    cashbox,
    categories,
    dashboard,
    device_config,
    devices,
    disbursements,
    dispatch,
    docs,
    doorstep,
    enrolments,
    households,
    integrity,
    massbalance,
    notifications,
    onboarding,
    operations,
    pickups,
    price_changes,
    programme,
    public,
    receivables,
    reports,
    stock,
    stream,
    summaries,
    telemetry,
    users,
    weighins,
)
from cloud.api.settings import ApiSettings
from cloud.api.state import ApiState
from cloud.api.textguard import refuse_nul
from cloud.db import is_sqlite, make_engine, migrate, session_factory
from cloud.dispatch import Dispatcher
from cloud.routing import matrix_provider, stop_worker, warm_up
from cloud.telemetry import open_reader
from cloud.tokens import TokenCache
from salinmas import __version__
from salinmas.lifeline import exit_with_parent

log = logging.getLogger(__name__)

DEFAULT_STATIC = Path(__file__).resolve().parent / "static"
#: routes are matched in this order: the hottest (balance lookups) first
#: FastAPI 0.165 matches a request against the included routers one by one (each a
#: linear scan of its routes): the hottest first (the balance, then ``/health``)
ROUTERS = (
    accounts,
    operations,
    auth,
    users,
    households,
    categories,
    weighins,
    bins,
    pickups,
    devices,
    telemetry,
    reports,
    stream,
    dashboard,
    notifications,
    integrity,
    public,
    audit_log,
    onboarding,
    enrolments,
    price_changes,
    device_config,
    cashbox,
    receivables,
    disbursements,
    summaries,
    docs,
    doorstep,
    dispatch,
    stock,
    massbalance,
    cases,
    programme,
)

#: FastAPI's native OpenTelemetry, all of it off (``ApiSettings.opentelemetry``)
NO_OPENTELEMETRY: Any = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}

DESCRIPTION = """
The Salinmas cloud API: households, member cards, prices, accounts and payouts,
weigh-ins, bins and pickups, devices, telemetry and a live event stream.

**Auth**: `POST /api/v1/auth/login` (staff) or `/api/v1/auth/household-login` returns an
access token (minutes) and a refresh token (single use, `POST /api/v1/auth/refresh`);
send the access token as `Authorization: Bearer <token>`. The live stream opens with a
single-use ticket (`POST /api/v1/auth/stream-ticket`, then `GET /api/v1/stream?ticket=`).
**Money** is integer rupiah, **weights** integer grams, **times**
UTC ISO-8601; money-moving POSTs need an `Idempotency-Key` header. Errors are
`application/problem+json`.
"""


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the API for ``settings`` (engine, broker control, hub); nothing starts yet."""
    if settings.migrate_on_start:
        migrate(settings.ledger_url)
    db = settings.db
    pool: dict[str, Any] = {
        "pool_size": db.pool_size,
        "max_overflow": db.max_overflow,
        "pool_timeout": db.pool_timeout_s,
        "pool_pre_ping": db.pre_ping,
    }
    engine = make_engine(settings.ledger_url, **pool)
    sessions = session_factory(engine)
    read_engine = (
        make_engine(settings.ledger_url, write=False, **pool)
        if is_sqlite(settings.ledger_url)
        else engine
    )
    read_sessions = session_factory(read_engine)
    principals = PrincipalCache(settings.principal_cache_ttl_s)
    for maker in (sessions, read_sessions):
        scope.install(maker)  # every API session is confined to its caller's reach
        watch_changes(maker, principals)
    adm = settings.admission
    state = ApiState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        read_engine=read_engine,
        read_sessions=read_sessions,
        gate=Gate(settings.threads, wait_s=adm.queue_wait_s, max_queue=adm.max_queue),
        principals=principals,
        broker=account_store(settings),
        throttle=settings.login_throttle.policy(),
        trusted_proxies=parse_networks(settings.trusted_proxies),
        hub=LiveHub(
            functools.partial(read_sessions, info={"scope": scope.SYSTEM}),
            poll_s=settings.stream_poll_s,
        ),
        jwt_secret=settings.token_secret,
        tokens=TokenCache(settings.token_secret),
    )
    state.telemetry = open_reader(settings.telemetry)  # read-only: no buffer, no thread
    state.dispatcher = Dispatcher(  # its own background work: reaches every site
        functools.partial(read_sessions, info={"scope": scope.SYSTEM}),
        functools.partial(sessions, info={"scope": scope.SYSTEM}),
        matrix=matrix_provider(settings.routing),
        routing=settings.routing,
        settings=settings.doorstep,
        on_plan=lambda plan: dispatch.pickups_replanned(state, plan),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        size_thread_pool(settings.threads)
        # the route solver's worker process (~2 s to start): on a thread, not in the way
        threading.Thread(
            target=warm_up, args=(settings.routing,), name="routing-warm-up", daemon=True
        ).start()
        await state.hub.start()
        if settings.mqtt.enabled:
            state.mqtt = MqttLink(settings.mqtt, on_message=state.hub.on_mqtt)
            state.mqtt.start()
        try:
            yield
        finally:
            if state.mqtt is not None:
                state.mqtt.stop()
                state.mqtt = None
            await state.hub.stop()
            if state.dispatcher is not None:
                state.dispatcher.close()
            # the solver's worker process: uvicorn re-raises SIGTERM after this, so the
            # process dies without the atexit hook that would have stopped it
            stop_worker()
            if state.telemetry is not None:
                state.telemetry.close()
            engine.dispose()
            read_engine.dispose()
            await state.close_fast_reads()

    app = FastAPI(
        title="Salinmas API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served offline by routes/docs.py (/docs, /redoc)
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],  # no NUL in any field of any request: 422
        telemetry=None if settings.opentelemetry else NO_OPENTELEMETRY,
    )
    app.state.api = state
    app.state.retry_after_s = adm.retry_after_s
    errors.install(app)
    openapi.install(app)
    if settings.fast_balance:  # innermost: inside CORS, the gate and the headers
        app.add_middleware(HotReads, state=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(AdmissionMiddleware, gate=state.gate, retry_after_s=adm.retry_after_s)
    # outermost: the gate's 503 and every other response get the security headers
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings.map.tiles_url))
    for module in ROUTERS:
        app.include_router(module.router)
    static = settings.static_dir or DEFAULT_STATIC
    if (static / "index.html").exists():
        app.mount("/", StaticFiles(directory=static, html=True), name="dashboard")
    return app


class RedactSecrets(logging.Filter):
    """Keeps credentials out of the access log (a stream ticket is single use, but still)."""

    PATTERN = re.compile(r"((?:ticket|access_token|refresh_token|token)=)[^&\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def app_from_environment() -> FastAPI:
    """The app of one of several uvicorn workers (``api run`` with ``workers > 1``).

    Each worker builds its own settings the way the parent did: from ``SALINMAS_CONFIG``
    and ``SALINMAS_API_*`` (the parent sets them) and the defaults. It exits when the
    parent is gone (SIGKILLed): uvicorn's workers would otherwise go on serving, orphaned.
    """
    exit_with_parent()
    return create_app(ApiSettings.load())


def run(settings: ApiSettings, *, config_file: str | None = None) -> int:
    """Serve the API with uvicorn: ``settings.workers`` processes on one port."""
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # client addresses come from trusted proxies only (cloud/api/clientaddr.py)
        "proxy_headers": False,
        # open live streams never end by themselves: cut them on shutdown
        "timeout_graceful_shutdown": 5,
        "log_level": "info",
        "access_log": settings.access_log,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    if settings.migrate_on_start:
        migrate(settings.ledger_url)  # once, before the workers start
    if config_file:
        os.environ["SALINMAS_CONFIG"] = str(config_file)
    os.environ["SALINMAS_API_HOST"] = settings.host
    os.environ["SALINMAS_API_PORT"] = str(settings.port)
    os.environ["SALINMAS_API_MIGRATE_ON_START"] = "false"
    uvicorn.run(
        "cloud.api.app:app_from_environment", factory=True, workers=settings.workers, **common
    )
    return 0
