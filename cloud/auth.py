"""Authentication domain: users, household PINs, who a token's subject is now.

Passwords and PINs are hashed with argon2id (``argon2-cffi``). Users and households
carry a *token version*: changing a password or PIN, a user's role or site, or
deactivating either bumps it, which ends every token the subject holds (sessions and
tokens: :mod:`cloud.tokens`; the login throttle: :mod:`cloud.throttle`).

Creating the first admin (what ``salinmas admin create-user`` calls)::

    from cloud.auth import create_user
    from cloud.db import make_engine, migrate, session_factory
    migrate(url)
    with session_factory(make_engine(url))() as s:
        create_user(s, username="admin", password="a long passphrase", role="admin")
        s.commit()
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.models import Household, Site, utcnow
from cloud.models.auth import SITE_USER_ROLES, USER_ROLES, HouseholdPin, User

Role = Literal["admin", "operator", "cashier", "collector", "auditor", "household"]

#: shortest password accepted for a user
MIN_PASSWORD_LEN = 10
PIN_RE = re.compile(r"^[0-9]{4,8}$")

# argon2id with the library's defaults (RFC 9106 "second recommended" profile)
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so timing does not reveal usernames.

    Made on first use, not at import (an argon2 hash costs tens of milliseconds).
    """
    return _hasher.hash("not-a-real-password")


class AuthError(ValueError):
    """Wrong credentials, unknown or inactive principal, or a bad token."""


class Throttled(AuthError):
    """Too many failed logins; retry after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InvalidInput(ValueError):
    """A value (password, PIN, role) breaks a rule; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- hashing


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret: str, encoded: str | None) -> bool:
    """True if ``secret`` matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(encoded or _dummy_hash(), secret) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------- users


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise InvalidInput("password", f"a password needs at least {MIN_PASSWORD_LEN} characters")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    site_id: int | None = None,
    phone: str | None = None,
    by: str | None = None,
) -> User:
    """Create a staff user (``role``: one of :data:`USER_ROLES`). Flushes, no commit.

    Operators, cashiers and collectors belong to one site; admins and auditors to none.
    """
    if role not in USER_ROLES:
        raise InvalidInput("role", f"role must be one of {', '.join(USER_ROLES)}")
    check_site_of_role(role, site_id)
    if not re.fullmatch(r"[A-Za-z0-9._@-]{3,80}", username):
        raise InvalidInput("username", "3-80 letters, digits or . _ @ -")
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput("username", f"username {username!r} is taken")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_secret(password),
        site_id=site_id,
        phone=phone,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="user.create",
        subject=f"user:{user.id}",
        after=audit.snapshot(user, USER_FIELDS),
        site_id=site_id,
    )
    return user


#: what the audit log keeps of a user (never the password hash)
USER_FIELDS = ("username", "display_name", "role", "site_id", "phone", "active")


def update_user(session: Session, *, user: User, changes: dict[str, Any], by: str | None) -> User:
    """Change a user's name, role, site, phone, activity or password; one audit row
    (a new password shows as ``"password": "changed"``, never the value). A change of
    role, site, activity or password ends every token the user holds."""
    before = audit.snapshot(user, USER_FIELDS)
    password = changes.pop("password", None)
    unknown = set(changes) - {"display_name", "role", "active", "phone", "site_id"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    if "role" in changes and changes["role"] not in USER_ROLES:
        raise InvalidInput("role", f"role must be one of {', '.join(USER_ROLES)}")
    access = (user.role, user.site_id, user.active)
    check_site_of_role(changes.get("role", user.role), changes.get("site_id", user.site_id))
    for name, value in changes.items():
        setattr(user, name, value)
    if (user.role, user.site_id, user.active) != access:
        user.token_version += 1
    if password is not None:
        set_user_password(session, user=user, password=password)
    session.flush()
    old, new = audit.changed(before, audit.snapshot(user, USER_FIELDS))
    if password is not None:
        old["password"], new["password"] = "unchanged", "changed"
    audit.record(
        session,
        actor=by,
        action="user.update",
        subject=f"user:{user.id}",
        before=old,
        after=new,
        site_id=user.site_id,
    )
    return user


def check_site_of_role(role: str, site_id: int | None) -> None:
    """A site role needs a site; a programme-wide role has none."""
    if role in SITE_USER_ROLES and site_id is None:
        raise InvalidInput("site_id", f"a user with role {role} belongs to a site")
    if role not in SITE_USER_ROLES and site_id is not None:
        raise InvalidInput("site_id", f"a user with role {role} spans every site: no site_id")


def set_user_password(session: Session, *, user: User, password: str) -> None:
    """A new password; every token of the user stops working."""
    _check_password(password)
    user.password_hash = hash_secret(password)
    user.password_changed_at = utcnow()
    user.token_version += 1
    session.flush()


def revoke_household_tokens(session: Session, *, household_id: int) -> None:
    """End every token of a household (deactivation); its PIN stays as it was."""
    row = session.get(HouseholdPin, household_id)
    if row is not None:
        row.token_version += 1
        session.flush()


@dataclass(frozen=True, slots=True)
class SubjectState:
    """What decides whether a subject's tokens still hold."""

    role: str
    version: int
    active: bool


def subject_state(session: Session, subject: str) -> SubjectState | None:
    """The current role, token version and activity of ``user:<id>`` / ``household:<id>``."""
    kind, _, ident = subject.partition(":")
    if kind == "user" and ident.isdigit():
        u = session.get(User, int(ident))
        return None if u is None else SubjectState(u.role, u.token_version, u.active)
    if kind == "household" and ident.isdigit():
        hh = session.get(Household, int(ident))
        pin = session.get(HouseholdPin, int(ident))
        if hh is None or pin is None:
            return None
        return SubjectState("household", pin.token_version, hh.active)
    return None


def subject_name(session: Session, subject: str) -> str:
    """The name a subject logs in with (username or member number)."""
    kind, _, ident = subject.partition(":")
    if kind == "user":
        u = session.get(User, int(ident))
        return u.username if u is not None else subject
    hh = session.get(Household, int(ident))
    return hh.member_no if hh is not None else subject


def set_household_pin(session: Session, *, household_id: int, pin: str, by: str | None) -> None:
    """Set (or replace) the login PIN of a household: 4-8 digits. A replaced PIN ends every
    token the household holds."""
    if not PIN_RE.fullmatch(pin):
        raise InvalidInput("pin", "a PIN is 4 to 8 digits")
    set_household_pin_hash(session, household_id=household_id, pin_hash=hash_secret(pin), by=by)


def set_household_pin_hash(
    session: Session, *, household_id: int, pin_hash: str, by: str | None
) -> None:
    """Set a household's PIN from its argon2 hash (audited; the hash is not logged)."""
    row = session.get(HouseholdPin, household_id)
    if row is None:
        session.add(
            HouseholdPin(household_id=household_id, pin_hash=pin_hash, set_by=by, token_version=0)
        )
    else:
        row.pin_hash, row.set_at, row.set_by = pin_hash, utcnow(), by
        row.token_version += 1
    session.flush()
    hh = session.get(Household, household_id)
    audit.record(
        session,
        actor=by,
        action="household.pin",
        subject=f"household:{household_id}",
        before={"pin": "set" if row is not None else None},
        after={"pin": "set"},
        site_id=hh.site_id if hh else None,
    )


# --------------------------------------------------------------------------- login


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login checks, read before (and apart from) the slow hash verification."""

    subject: str  # "user:<id>" | "household:<id>"
    role: str
    name: str
    version: int
    active: bool
    secret_hash: str | None


def user_credentials(session: Session, *, username: str) -> Credentials | None:
    u = session.scalar(select(User).where(User.username == username))
    if u is None:
        return None
    return Credentials(
        f"user:{u.id}", u.role, u.username, u.token_version, u.active, u.password_hash
    )


def household_credentials(session: Session, *, member_no: str) -> Credentials | None:
    row = session.execute(
        select(Household, HouseholdPin)
        .outerjoin(HouseholdPin, HouseholdPin.household_id == Household.id)
        .where(Household.member_no == member_no)
    ).first()
    if row is None:
        return None
    hh, pin = row
    return Credentials(
        f"household:{hh.id}",
        "household",
        hh.member_no,
        pin.token_version if pin else 0,
        hh.active,
        pin.pin_hash if pin else None,
    )


def create_user_cli(
    *,
    url: str,
    username: str,
    role: str = "admin",
    password: str | None = None,
    site: str | None = None,
) -> int:
    """``salinmas admin create-user``: migrate the ledger, then create one user.

    ``site`` is the code of the user's site (every role of :data:`SITE_USER_ROLES`
    belongs to one). Prompts for the password (twice) when ``password`` is None. Returns
    the user's id; raises :class:`InvalidInput` (a clear message) for a taken name, a
    weak password, an unknown site or a site role without one.
    """
    import getpass

    from cloud.db import make_engine, migrate, session_factory

    if password is None:
        password = getpass.getpass(f"password for {username}: ")
        if getpass.getpass("again: ") != password:
            raise InvalidInput("password", "the two passwords differ")
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            site_id = None
            if site is not None:
                site_id = session.scalar(select(Site.id).where(Site.code == site))
                if site_id is None:
                    raise InvalidInput("site", f"unknown site {site!r}")
            user = create_user(
                session, username=username, password=password, role=role, site_id=site_id
            )
            session.commit()
            at = f" at {site}" if site else ""
            print(f"created {role} {username!r}{at} (id {user.id})")
            return user.id
    finally:
        engine.dispose()
