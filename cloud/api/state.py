"""What one API process holds: settings, the ledger engine, broker control, the live hub.

Built by :func:`cloud.api.app.create_app` (never at import time) and kept on
``app.state.api``; routes reach it through the dependencies in :mod:`cloud.api.deps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.clientaddr import Network
from cloud.api.fastread import BalanceReads, FastReads
from cloud.api.gate import Gate, run_db
from cloud.api.principals import PrincipalCache, SubjectRow, load_subject, load_subject_on_loop
from cloud.api.settings import ApiSettings
from cloud.auth import verify_secret
from cloud.broker_accounts import AccountStore
from cloud.telemetry import TelemetryReader
from cloud.throttle import ThrottlePolicy
from cloud.tokens import TokenCache

if TYPE_CHECKING:
    from cloud.api.live import LiveHub
    from cloud.api.mqtt import MqttLink
    from cloud.dispatch import Dispatcher


@dataclass
class ApiState:
    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    #: the engine of reads: on SQLite one with deferred BEGINs, so reads never queue
    #: behind the write lock (the same engine as ``engine`` on PostgreSQL)
    read_engine: Engine
    #: sessions for GET requests (on ``read_engine``)
    read_sessions: sessionmaker[Session]
    broker: AccountStore
    throttle: ThrottlePolicy
    hub: LiveHub
    gate: Gate
    principals: PrincipalCache
    #: the proxies whose X-Forwarded-For is believed (:mod:`cloud.api.clientaddr`)
    trusted_proxies: list[Network] = field(default_factory=list)
    #: checks a password or PIN against its hash (argon2; injectable for tests)
    verify: Callable[[str, str | None], bool] = verify_secret
    mqtt: MqttLink | None = None
    telemetry: TelemetryReader | None = None
    #: keeps each site's collector routes planned (cloud.dispatch)
    dispatcher: Dispatcher | None = None
    jwt_secret: str = field(default="", repr=False)
    tokens: TokenCache | None = field(default=None, repr=False)

    @cached_property
    def fast(self) -> FastReads:
        """The hottest single-statement reads (a balance), on a pool of their own with one
        connection per database thread at most (:mod:`cloud.api.fastread`)."""
        return FastReads(
            self.settings.ledger_url,
            size=self.settings.threads,
            timeout_s=self.settings.db.pool_timeout_s,
        )

    @cached_property
    def balances(self) -> BalanceReads:
        """Balance lookups, batched on PostgreSQL (:class:`BalanceReads`)."""
        return BalanceReads(self.fast)

    async def close_fast_reads(self) -> None:
        if "fast" in self.__dict__:
            await self.fast.close_on_loop()
            self.fast.dispose()

    async def subject(self, kind: str, ident: int, sid: str) -> SubjectRow | None:
        """A token subject's row and session, read on the hot reads' pool: on the event
        loop on PostgreSQL, else on a database thread."""
        if self.fast.postgres:
            return await load_subject_on_loop(self.fast.all_on_loop, kind, ident, sid)
        return await run_db(load_subject, self.fast.all, kind, ident, sid)

    @property
    def token_cache(self) -> TokenCache:
        assert self.tokens is not None
        return self.tokens
