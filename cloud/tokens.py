"""Sessions and their tokens: short access tokens, rotating refresh tokens, stream tickets.

A login starts a *session* (:class:`~cloud.models.auth.AuthSession`) and returns two
tokens:

* an **access token**: an HS256 JWT that lives minutes (``access_lifetime``), sent as
  ``Authorization: Bearer``. Claims: ``sub`` (``user:<id>`` | ``household:<id>``),
  ``role``, ``ver`` (the subject's token version when the session started), ``sid``
  (the session), ``typ`` ``"access"``, ``aud``, ``iat``, ``exp``. The API accepts it
  while the subject is active with that role and version and the session is open.
* a **refresh token** ``<sid>.<secret>`` (opaque) that buys a new pair until the session
  expires. It rotates at each use: the session keeps only the SHA-256 of the current
  secret, and presenting any other secret for the session (a copy replayed after the
  owner refreshed, or the owner after a thief did) ends the session for both.

A subject's *token version* is bumped when its password or PIN changes, when its role or
site changes and when it is deactivated (:mod:`cloud.auth`): every token it holds stops
working at once, refresh tokens included. Logging out ends one session.

A **stream ticket** opens the live stream (``EventSource`` cannot send headers, and an
access token must not travel in a URL): opaque, single use (deleted when redeemed),
valid seconds, bound to the session that asked for it.

>>> secret = "x" * 40                                          # doctest: +SKIP
>>> issued = start_session(s, subject="user:1", role="admin", version=0, secret=secret,
...                        access_lifetime=timedelta(minutes=15),
...                        session_lifetime=timedelta(hours=8))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.auth import AuthError, Role, subject_state
from cloud.models import utcnow
from cloud.models.auth import USER_ROLES, AuthSession, StreamTicket

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "salinmas-api"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --------------------------------------------------------------------------- access tokens


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str  # "user:<id>" | "household:<id>"
    role: Role
    version: int
    session_id: str
    expires_at: datetime

    @property
    def kind(self) -> str:
        return self.subject.partition(":")[0]

    @property
    def ident(self) -> int:
        return int(self.subject.partition(":")[2])


def issue_access_token(
    *,
    subject: str,
    role: str,
    version: int,
    session_id: str,
    secret: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A signed access token and its expiry time."""
    now = now or datetime.now(UTC)
    exp = now + lifetime
    payload: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "ver": version,
        "sid": session_id,
        "typ": "access",
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(exp.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), exp


def decode_access_token(token: str, *, secret: str) -> TokenClaims:
    """Verify signature, audience, type and expiry; :class:`AuthError` otherwise."""
    try:
        data = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["sub", "exp", "role", "aud", "ver", "sid", "typ"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    sub, role, ver, sid = data.get("sub"), data.get("role"), data.get("ver"), data.get("sid")
    kind, _, ident = str(sub).partition(":")
    if kind not in ("user", "household") or not ident.isdigit() or data.get("typ") != "access":
        raise AuthError("invalid token subject")
    if role not in (*USER_ROLES, "household") or type(ver) is not int or not isinstance(sid, str):
        raise AuthError("invalid token claims")
    return TokenClaims(
        subject=str(sub),
        role=role,
        version=ver,
        session_id=sid,
        expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
    )


class TokenCache:
    """Verified access tokens by their text, so a repeated token skips the signature check.

    A hit is re-checked for expiry; at most ``size`` tokens are kept (oldest dropped).
    Whether the subject and its session still hold is checked on every request anyway.
    """

    def __init__(self, secret: str, size: int = 10_000) -> None:
        if not secret:
            raise ValueError("no token secret")
        self._secret = secret
        self._size = size
        self._claims: dict[str, TokenClaims] = {}

    def decode(self, token: str) -> TokenClaims:
        claims = self._claims.get(token)
        if claims is None:
            claims = decode_access_token(token, secret=self._secret)
            if len(self._claims) >= self._size:
                self._claims.pop(next(iter(self._claims)))
            self._claims[token] = claims
        elif claims.expires_at <= datetime.now(UTC):
            self._claims.pop(token, None)
            raise AuthError("invalid token: Signature has expired")
        return claims


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class Issued:
    """What a login or a refresh hands out."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: str
    role: str
    subject: str

    @property
    def subject_id(self) -> int:
        return int(self.subject.partition(":")[2])


def start_session(
    session: Session,
    *,
    subject: str,
    role: str,
    version: int,
    secret: str,
    access_lifetime: timedelta,
    session_lifetime: timedelta,
) -> Issued:
    """Open a session for a subject who just proved who it is. Flushes, no commit."""
    sid = secrets.token_urlsafe(16)
    refresh_secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(
        id=sid,
        subject=subject,
        token_version=version,
        refresh_hash=_digest(refresh_secret),
        created_at=now,
        refreshed_at=now,
        expires_at=now + session_lifetime,
    )
    session.add(row)
    session.flush()
    return _issue(row, role, refresh_secret, secret, access_lifetime)


def _issue(
    row: AuthSession, role: str, refresh_secret: str, secret: str, lifetime: timedelta
) -> Issued:
    token, exp = issue_access_token(
        subject=row.subject,
        role=role,
        version=row.token_version,
        session_id=row.id,
        secret=secret,
        lifetime=min(lifetime, row.expires_at - utcnow()),
    )
    return Issued(
        token, exp, f"{row.id}.{refresh_secret}", row.expires_at, row.id, role, row.subject
    )


def _locked_session(session: Session, sid: str) -> AuthSession | None:
    return session.scalar(select(AuthSession).where(AuthSession.id == sid).with_for_update())


def refresh_session(
    session: Session, *, refresh_token: str, secret: str, access_lifetime: timedelta
) -> Issued:
    """A new pair for a valid refresh token (rotated); :class:`AuthError` otherwise.

    Commits nothing itself, but a reuse ends the session: the caller must commit after
    an :class:`AuthError` too (the API does).
    """
    sid, _, presented = refresh_token.partition(".")
    row = _locked_session(session, sid) if sid and presented else None
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise AuthError("the session is unknown, ended or expired")
    if not secrets.compare_digest(row.refresh_hash, _digest(presented)):
        _end(row, "refresh-reuse")  # a stale copy: whoever holds the other one, stop both
        raise AuthError("this refresh token was already used; the session is ended")
    state = subject_state(session, row.subject)
    if state is None or not state.active or state.version != row.token_version:
        _end(row, "subject-changed")
        raise AuthError("the session's subject changed or was deactivated")
    refresh_secret = secrets.token_urlsafe(32)
    row.refresh_hash, row.refreshed_at = _digest(refresh_secret), utcnow()
    session.flush()
    return _issue(row, state.role, refresh_secret, secret, access_lifetime)


def _end(row: AuthSession, reason: str) -> None:
    if row.revoked_at is None:
        row.revoked_at, row.revoked_reason = utcnow(), reason


def end_session(session: Session, *, session_id: str, reason: str = "logout") -> None:
    """End a session (logout): its access and refresh tokens stop working. Flushes."""
    row = _locked_session(session, session_id)
    if row is not None:
        _end(row, reason)
        session.flush()


# --------------------------------------------------------------------------- stream tickets


def issue_stream_ticket(
    session: Session,
    *,
    subject: str,
    role: str,
    session_id: str,
    version: int,
    lifetime: timedelta,
) -> tuple[str, datetime]:
    """A single-use ticket for the live stream, bound to the caller's session. Flushes."""
    ticket = secrets.token_urlsafe(24)
    expires = utcnow() + lifetime
    session.execute(delete(StreamTicket).where(StreamTicket.expires_at < utcnow()))
    session.add(
        StreamTicket(
            ticket_hash=_digest(ticket),
            subject=subject,
            role=role,
            session_id=session_id,
            token_version=version,
            expires_at=expires,
        )
    )
    session.flush()
    return ticket, expires


def redeem_stream_ticket(session: Session, *, ticket: str) -> TokenClaims:
    """The claims a ticket stands for; it is gone afterwards (single use). Flushes.

    Two concurrent redemptions of one ticket: only the one whose DELETE removes the row
    gets it (``DELETE ... RETURNING``, atomic on SQLite and PostgreSQL).
    """
    row = session.execute(
        delete(StreamTicket)
        .where(StreamTicket.ticket_hash == _digest(ticket))
        .returning(
            StreamTicket.subject,
            StreamTicket.role,
            StreamTicket.session_id,
            StreamTicket.token_version,
            StreamTicket.expires_at,
        )
    ).first()
    session.flush()
    if row is None or row.expires_at <= utcnow():
        raise AuthError("unknown, used or expired stream ticket")
    return TokenClaims(
        subject=row.subject,
        role=row.role,
        version=row.token_version,
        session_id=row.session_id,
        expires_at=row.expires_at,
    )
