"""What one API process holds: settings, the ledger engine, broker control, the live hub.

Built by :func:`cloud.api.app.create_app` (never at import time) and kept on
``app.state.api``; routes reach it through the dependencies in :mod:`cloud.api.deps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.settings import ApiSettings
from cloud.auth import ThrottlePolicy, TokenCache
from cloud.broker_accounts import AccountStore
from cloud.telemetry import TelemetryReader

if TYPE_CHECKING:
    from cloud.api.live import LiveHub
    from cloud.api.mqtt import MqttLink
    from cloud.dispatch import Dispatcher


@dataclass
class ApiState:
    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    #: sessions for GET requests: on SQLite a deferred BEGIN, so reads never queue behind
    #: the write lock (same as ``sessions`` on PostgreSQL)
    read_sessions: sessionmaker[Session]
    broker: AccountStore
    throttle: ThrottlePolicy
    hub: LiveHub
    mqtt: MqttLink | None = None
    telemetry: TelemetryReader | None = None
    #: keeps each site's collector routes planned (cloud.dispatch)
    dispatcher: Dispatcher | None = None
    jwt_secret: str = field(default="", repr=False)
    tokens: TokenCache | None = field(default=None, repr=False)
