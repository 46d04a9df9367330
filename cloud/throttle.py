"""The login throttle: guesses are counted before they are checked, by account and source.

Every login attempt is counted against four keys before its password or PIN is verified:

========  =============================================  ==============================
key       counts failures of                             stops
========  =============================================  ==============================
pair      one account from one address                   guessing one account
account   one account from anywhere                      guessing it from many addresses
source    one address, whatever the account              spraying PINs across members
network   one address range (IPv4 /24, IPv6 /64)         spraying from a block
========  =============================================  ==============================

A key allows ``free`` failures within ``window``; each further failure pushes the key's
next allowed attempt out by a delay that doubles (``base``, ``2 base``, ``4 base`` ...)
up to the key's ``max_delay``. An attempt while any of its keys is delayed is refused
(:class:`~cloud.auth.Throttled`, answered 429 with ``Retry-After``) *without* checking
the secret. There is no lockout: the account key's delay is capped low (a minute), so
strangers failing on someone's account slow its owner down by at most that, while the
owner's own address (pair, source) stays clean.

:func:`reserve` counts the attempt as a failure in one short write transaction, with
the keys' rows locked (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite), so parallel guesses are counted one after another and at most ``free`` of them
reach the (slow, argon2) check. The check runs outside any transaction; a success then
gives the attempt back (:func:`succeeded`: the pair is cleared, the other keys lose the
one failure). Keys are stored hashed (no member numbers or addresses in clear).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import bulk
from cloud.auth import Throttled
from cloud.models import utcnow
from cloud.models.auth import LoginThrottle

Kind = Literal["pair", "account", "source", "network"]


@dataclass(frozen=True, slots=True)
class Limit:
    """``free`` failures per ``window``, then delays from ``base`` doubling to ``max_delay``."""

    free: int
    max_delay: timedelta
    base: timedelta = timedelta(seconds=1)

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        doublings = min(failures - self.free, 40)
        delay: timedelta = min(self.max_delay, self.base * (2**doublings))
        return delay


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    window: timedelta = timedelta(minutes=15)
    pair: Limit = Limit(5, timedelta(minutes=15))
    account: Limit = Limit(10, timedelta(minutes=1))
    source: Limit = Limit(20, timedelta(hours=1))
    network: Limit = Limit(100, timedelta(hours=1))

    def limit(self, kind: Kind) -> Limit:
        limit: Limit = getattr(self, kind)
        return limit


@dataclass(frozen=True, slots=True)
class Key:
    kind: Kind
    digest: str


def network_of(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address belongs to; the text itself if not an IP."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def keys_for(login: str, address: str) -> list[Key]:
    """The four keys of an attempt on ``login`` (e.g. ``household:M-0001``) from ``address``."""
    login = login.lower()

    def key(kind: Kind, text: str) -> Key:
        return Key(kind, hashlib.sha256(f"{kind}|{text}".encode()).hexdigest())

    return [
        key("pair", f"{login}|{address}"),
        key("account", login),
        key("source", address),
        key("network", network_of(address)),
    ]


def _locked_rows(session: Session, keys: list[Key], now: datetime) -> dict[str, LoginThrottle]:
    digests = sorted({k.digest for k in keys})  # one lock order for everyone: no deadlocks
    bulk.insert_rows(
        session,
        LoginThrottle,
        [{"key": d, "failures": 0, "window_start": now} for d in digests],
        skip_conflicts_on=["key"],
    )
    rows = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(digests))
        .order_by(LoginThrottle.key)
        .with_for_update()
    )
    return {r.key: r for r in rows}


def reserve(
    session: Session, keys: list[Key], policy: ThrottlePolicy, now: datetime | None = None
) -> None:
    """Count this attempt as a failure on every key, or refuse it (:class:`Throttled`).

    Flushes; the caller commits at once (before checking the secret), whatever happens.
    """
    now = now or utcnow()
    rows = _locked_rows(session, keys, now)
    wait = timedelta(0)
    for k in keys:
        row = rows[k.digest]
        if now - row.window_start > policy.window:
            row.failures, row.window_start, row.blocked_until = 0, now, None
        if row.blocked_until is not None and row.blocked_until > now:
            wait = max(wait, row.blocked_until - now)
    if wait > timedelta(0):
        session.flush()
        raise Throttled(max(1, int(wait.total_seconds() + 0.999)))
    for k in keys:
        row = rows[k.digest]
        row.failures += 1
        delay = policy.limit(k.kind).delay(row.failures)
        row.blocked_until = now + delay if delay else None
    session.flush()


def succeeded(session: Session, keys: list[Key]) -> None:
    """The attempt was right: clear its pair, give the other keys their failure back."""
    rows = {
        r.key: r
        for r in session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.key.in_([k.digest for k in keys]))
            .order_by(LoginThrottle.key)
            .with_for_update()
        )
    }
    for k in keys:
        row = rows.get(k.digest)
        if row is None:
            continue
        if k.kind == "pair":
            session.delete(row)
        else:
            row.failures = max(0, row.failures - 1)
    session.flush()
