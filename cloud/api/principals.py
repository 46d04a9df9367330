"""Who is calling: the principal behind a token, and a short cache of verified callers.

A token names its subject (``user:<id>`` or ``household:<id>``), the subject's token
version and its session (:mod:`cloud.tokens`). The subject's row (role, site, active,
token version) and whether the session is still open are read in one statement, so a
logout, a new password, a role change or a deactivation takes effect. Reads (``GET``)
may use that answer at most ``principal_cache_ttl_s`` old (:class:`PrincipalCache`,
one per worker process, dropped at once when a change is committed through this worker,
see :func:`watch_changes`); writes and the live stream always re-read it. That keeps
the hot read path (a household's balance) at one query.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, event, exists, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.scope import Scope
from cloud.auth import AuthError, Role
from cloud.models import Household, UtcDateTime, utcnow
from cloud.models.auth import AuthSession, HouseholdPin, User
from cloud.tokens import TokenClaims

Key = tuple[str, int]
SessionKey = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff user or a household."""

    kind: str  # "user" | "household"
    id: int
    role: Role
    name: str
    site_id: int | None
    #: the login session the token belongs to (logout ends it) and its token version
    session_id: str = ""
    version: int = 0

    @property
    def scope(self) -> Scope:
        """What this caller reaches (:mod:`cloud.api.scope`)."""
        if self.kind == "household":
            return Scope("household", site_id=self.site_id, household_id=self.id)
        return Scope(self.role, site_id=self.site_id, user_id=self.id)

    @property
    def label(self) -> str:
        """Who did it, for audit columns: ``user:alice`` or ``household:M-0001``."""
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """The database's word on a token's subject and session."""

    role: str
    name: str
    site_id: int | None
    active: bool
    version: int
    session_open: bool


_OPEN = exists().where(
    AuthSession.id == bindparam("sid"),
    AuthSession.revoked_at.is_(None),
    AuthSession.expires_at > bindparam("now", type_=UtcDateTime),
)
_USER = select(
    User.username,
    User.role,
    User.active,
    User.site_id,
    User.token_version,
    _OPEN.label("session_open"),
).where(User.id == bindparam("id"))
_HOUSEHOLD = (
    select(
        Household.member_no,
        literal_column("'household'", String()),
        Household.active,
        Household.site_id,
        HouseholdPin.token_version,
        _OPEN.label("session_open"),
    )
    .join(HouseholdPin, HouseholdPin.household_id == Household.id)
    .where(Household.id == bindparam("id"))
)


def load_subject(
    rows: Callable[..., list[tuple[Any, ...]]], kind: str, ident: int, sid: str
) -> SubjectRow | None:
    """One statement: the subject's row and whether session ``sid`` is open (no ORM, no
    site rule: this is who the caller *is*). ``rows(statement, **binds)`` runs it (the
    API's own read pool, :meth:`cloud.api.fastread.FastReads.all`)."""
    statement, binds = _subject_query(kind, ident, sid)
    return _subject(rows(statement, **binds))


async def load_subject_on_loop(
    rows: Callable[..., Awaitable[list[tuple[Any, ...]]]], kind: str, ident: int, sid: str
) -> SubjectRow | None:
    """:func:`load_subject` with ``rows`` awaited on the event loop (PostgreSQL's
    :meth:`cloud.api.fastread.FastReads.all_on_loop`)."""
    statement, binds = _subject_query(kind, ident, sid)
    return _subject(await rows(statement, **binds))


def _subject_query(kind: str, ident: int, sid: str) -> tuple[Any, dict[str, Any]]:
    return (_USER if kind == "user" else _HOUSEHOLD), {"id": ident, "sid": sid, "now": utcnow()}


def _subject(found: list[tuple[Any, ...]]) -> SubjectRow | None:
    if not found:
        return None
    name, role, active, site_id, version, session_open = found[0]
    return SubjectRow(role, name, site_id, bool(active), version, bool(session_open))


def principal_for(claims: TokenClaims, row: SubjectRow | None) -> Principal:
    """The principal if the token still matches its subject and session, else
    :class:`AuthError` (unknown, deactivated, role or token version changed, logged out)."""
    if row is None or not row.active or row.role != claims.role or row.version != claims.version:
        raise AuthError(f"the token's {claims.kind} is unknown, changed or deactivated")
    if not row.session_open:
        raise AuthError("the token's session has ended (logged out or expired)")
    return Principal(
        claims.kind,
        claims.ident,
        claims.role,
        row.name,
        row.site_id,
        claims.session_id,
        claims.version,
    )


class PrincipalCache:
    """Subject rows by ``(kind, id, session)``, each kept ``ttl_s`` seconds (0 = none)."""

    def __init__(self, ttl_s: float, size: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self._size = size
        self._rows: dict[SessionKey, tuple[float, SubjectRow]] = {}
        self._sessions: dict[Key, set[SessionKey]] = {}

    def get(self, key: SessionKey) -> SubjectRow | None:
        hit = self._rows.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            self._rows.pop(key, None)
            return None
        return hit[1]

    def put(self, key: SessionKey, row: SubjectRow) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._rows) >= self._size:
            old = next(iter(self._rows))
            self._rows.pop(old)
            self._sessions.get((old[0], old[1]), set()).discard(old)
        self._rows[key] = (time.monotonic() + self.ttl_s, row)
        self._sessions.setdefault((key[0], key[1]), set()).add(key)

    def drop(self, subject: Key) -> None:
        """Forget every cached session of ``subject``."""
        for key in self._sessions.pop(subject, set()):
            self._rows.pop(key, None)


def _subject_key(obj: Any) -> Key | None:
    if isinstance(obj, User):
        return ("user", obj.id)
    if isinstance(obj, Household):
        return ("household", obj.id)
    if isinstance(obj, HouseholdPin):
        return ("household", obj.household_id)
    if isinstance(obj, AuthSession):
        kind, _, ident = obj.subject.partition(":")
        return (kind, int(ident)) if ident.isdigit() else None
    return None


def watch_changes(sessions: sessionmaker[Session], cache: PrincipalCache) -> None:
    """Drop a cached subject when a change to its row is committed through ``sessions``."""

    @event.listens_for(sessions, "before_flush")
    def _collect(session: Session, _ctx: Any, _instances: Any) -> None:
        touched: set[Key] = session.info.setdefault("principals_touched", set())
        for obj in (*session.dirty, *session.deleted):
            if (key := _subject_key(obj)) is not None:
                touched.add(key)

    @event.listens_for(sessions, "after_commit")
    def _drop(session: Session) -> None:
        for key in session.info.pop("principals_touched", ()):
            cache.drop(key)

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop("principals_touched", None)
