"""Who is calling: the principal behind a token, and a short cache of verified callers.

A token names its subject (``user:<id>`` or ``household:<id>``); the subject's row (role,
site, active) is re-read from the database so that deactivation and role changes take
effect. Reads (``GET``) may use a copy of that row at most ``principal_cache_ttl_s``
old (:class:`PrincipalCache`, one per worker process, dropped at once when a change is
committed through this worker, see :func:`watch_changes`); writes and the live stream
always re-read it. That makes the hot read path (a household's balance) one query.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.scope import Scope
from cloud.auth import AuthError, Role, TokenClaims
from cloud.models import Household
from cloud.models.auth import HouseholdPin, User

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff user or a household."""

    kind: str  # "user" | "household"
    id: int
    role: Role
    name: str
    site_id: int | None

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
    """The database's word on a token's subject."""

    role: str
    name: str
    site_id: int | None
    active: bool


_USER = select(User.username, User.role, User.active, User.site_id).where(
    User.id == bindparam("id")
)
_HOUSEHOLD = select(Household.member_no, Household.active, Household.site_id).where(
    Household.id == bindparam("id")
)


def load_subject(conn: Connection, kind: str, ident: int) -> SubjectRow | None:
    """One primary-key read (Core: no ORM, no site rule: this is who the caller *is*)."""
    if kind == "user":
        u = conn.execute(_USER, {"id": ident}).first()
        return None if u is None else SubjectRow(u.role, u.username, u.site_id, bool(u.active))
    h = conn.execute(_HOUSEHOLD, {"id": ident}).first()
    if h is None:
        return None
    return SubjectRow("household", h.member_no, h.site_id, bool(h.active))


def principal_for(claims: TokenClaims, row: SubjectRow | None) -> Principal:
    """The principal if the token still matches its subject's row, else :class:`AuthError`."""
    if row is None or not row.active or row.role != claims.role:
        raise AuthError(f"the token's {claims.kind} is unknown, changed or deactivated")
    return Principal(claims.kind, claims.ident, claims.role, row.name, row.site_id)


class PrincipalCache:
    """Subject rows by ``(kind, id)``, each kept ``ttl_s`` seconds (0 = no caching)."""

    def __init__(self, ttl_s: float, size: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self._size = size
        self._rows: dict[Key, tuple[float, SubjectRow]] = {}

    def get(self, key: Key) -> SubjectRow | None:
        hit = self._rows.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            self._rows.pop(key, None)
            return None
        return hit[1]

    def put(self, key: Key, row: SubjectRow) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._rows) >= self._size:
            self._rows.pop(next(iter(self._rows)))
        self._rows[key] = (time.monotonic() + self.ttl_s, row)

    def drop(self, key: Key) -> None:
        self._rows.pop(key, None)


def _subject_key(obj: Any) -> Key | None:
    if isinstance(obj, User):
        return ("user", obj.id)
    if isinstance(obj, Household):
        return ("household", obj.id)
    if isinstance(obj, HouseholdPin):
        return ("household", obj.household_id)
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
