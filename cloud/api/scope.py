"""THE rule of reach: which rows a caller may see and touch, applied to every query.

Every API session carries the caller's :class:`Scope` (``session.info["scope"]``, set by
:func:`cloud.api.deps.get_session`). :func:`install` hooks two session events, once:

* ``do_orm_execute``: every ORM ``SELECT``/``UPDATE``/``DELETE`` of the session gets
  ``with_loader_criteria`` filters for the scoped tables (:meth:`Scope.criteria`), so
  lists, lookups by id, CSV exports, locks taken by the domain (``SELECT ... FOR
  UPDATE``) and joins only ever see rows within reach. A row out of reach does not exist
  for the caller: lookups answer 404, lists leave it out, actions cannot load it.
* ``before_flush``: a new or changed row must land within reach (:meth:`Scope.places`):
  an operator of site 1 cannot create a household, bin or pickup in site 2, nor move a
  row there.

The live stream applies the same rule to events (:meth:`Scope.admits`). A session
without a scope is refused (fail closed); the API's own background work (the live hub's
poller, logins) uses :data:`SYSTEM` explicitly.

Reach by role (a user row carries its site; admin and auditor have none):

=========  ===============================================================
admin      everything, every site
auditor    everything, every site (reads only: sessions of writes refuse it)
operator   its site: households (and their cards, accounts, payouts, receivables), weigh-ins,
cashier    pickups, bins, devices, alerts and dead letters of its devices, users,
           disbursements of its payouts, its cash days, registration requests,
           card enrolments, audit rows, station keys, approvals, configuration
           logs and holds of its site's devices
collector  its own pickups, and the households (their accounts and weigh-ins) and
           bins those pickups go to
household  itself: its account, receivable, cards, weigh-ins, payouts, pickups
=========  ===============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, event, false, inspect, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption

from cloud.models import (
    Account,
    Alert,
    Bin,
    DeadLetter,
    Device,
    Household,
    MemberCard,
    Pickup,
    Site,
    WeighinRecord,
)
from cloud.models.admin import CardEnrolment, CashDay, CashMovement, RegistrationRequest
from cloud.models.audit import AuditEntry
from cloud.models.auth import User
from cloud.models.disbursement import Disbursement
from cloud.models.integrity import Approval, ConfigLogEntry, DeviceKey, Hold
from cloud.models.money import Payout, Receivable

#: roles that reach every site
PROGRAMME_WIDE = frozenset({"admin", "auditor", "system"})
#: roles bound to one site
SITE_ROLES = frozenset({"operator", "cashier", "collector"})


class OutOfReach(Exception):
    """A write would create or move a row outside the caller's reach (answered 404)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a caller reaches: a role with its site, user id or household id.

    ``site_id`` is the site of a staff user, or the household's own site.
    """

    role: str
    site_id: int | None = None
    user_id: int | None = None
    household_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.role in PROGRAMME_WIDE

    @property
    def site_staff(self) -> bool:
        return self.role in ("operator", "cashier")

    # ------------------------------------------------------------------ SQL

    def criteria(self) -> tuple[LoaderCriteriaOption, ...]:
        """``with_loader_criteria`` options confining every scoped table to this reach.

        Built once per scope and kept (:func:`_criteria_of`): an option is an immutable
        value whose lambdas' closure values (the site, household or user id) are read
        when it is built, and building the 23 of them cost ~3 ms of a request's CPU per
        ORM statement (a statement read four, a payout a dozen).
        """
        if self.everything:
            return ()
        return _criteria_of(self)

    def build_criteria(self) -> tuple[LoaderCriteriaOption, ...]:
        """The options, built afresh (:meth:`criteria` keeps them)."""
        rules = self._rules()
        return tuple(
            with_loader_criteria(cls, rules.get(cls, _nothing), include_aliases=True)
            for cls in SCOPED
        )

    def _rules(self) -> dict[type[Any], Callable[[Any], ColumnElement[bool]]]:
        if self.site_staff:
            s = self.site_id if self.site_id is not None else -1  # no site: nothing

            def site_households() -> Any:
                return select(Household.id).where(Household.site_id == s)

            def site_devices() -> Any:
                return select(Device.device_id).where(Device.site_id == s)

            return {
                Site: lambda c: c.id == s,
                Household: lambda c: c.site_id == s,
                MemberCard: lambda c: c.household_id.in_(site_households()),
                Account: lambda c: or_(
                    c.household_id.is_(None), c.household_id.in_(site_households())
                ),
                WeighinRecord: lambda c: or_(c.site_id == s, c.household_id.in_(site_households())),
                Payout: lambda c: c.household_id.in_(site_households()),
                Receivable: lambda c: c.household_id.in_(site_households()),
                Pickup: lambda c: or_(c.site_id == s, c.household_id.in_(site_households())),
                Bin: lambda c: c.site_id == s,
                Device: lambda c: c.site_id == s,
                Alert: lambda c: c.site_id == s,
                DeadLetter: lambda c: c.client_hint.in_(
                    select(Device.device_id).where(Device.site_id == s)
                ),
                User: lambda c: c.site_id == s,
                Disbursement: lambda c: c.payout_id.in_(
                    select(Payout.id).where(Payout.household_id.in_(site_households()))
                ),
                CashDay: lambda c: c.site_id == s,
                CashMovement: lambda c: c.site_id == s,
                RegistrationRequest: lambda c: c.site_id == s,
                CardEnrolment: lambda c: c.household_id.in_(site_households()),
                AuditEntry: lambda c: c.site_id == s,
                DeviceKey: lambda c: c.device_id.in_(site_devices()),
                Approval: lambda c: c.device_id.in_(site_devices()),
                ConfigLogEntry: lambda c: c.device_id.in_(site_devices()),
                Hold: lambda c: c.device_id.in_(site_devices()),
            }
        if self.role == "household":
            h = self.household_id if self.household_id is not None else -1
            return {
                Household: lambda c: c.id == h,
                MemberCard: lambda c: c.household_id == h,
                Account: lambda c: c.household_id == h,
                WeighinRecord: lambda c: c.household_id == h,
                Payout: lambda c: c.household_id == h,
                Receivable: lambda c: c.household_id == h,
                Pickup: lambda c: c.household_id == h,
                # the collectors of its pickups (their names on its pickup list)
                User: lambda c: c.id.in_(
                    select(Pickup.collector_id).where(Pickup.household_id == h)
                ),
            }
        if self.role == "collector":
            u = self.user_id if self.user_id is not None else -1

            site = self.site_id if self.site_id is not None else -1
            return {
                Site: lambda c: c.id == site,  # its own site (its depot, its name)
                Pickup: lambda c: c.collector_id == u,
                Household: lambda c: c.id.in_(
                    select(Pickup.household_id).where(Pickup.collector_id == u)
                ),
                # what weighing at the door credits: the accounts and weigh-ins of the
                # households its pickups go to (and the programme's own accounts)
                Account: lambda c: or_(
                    c.household_id.is_(None),
                    c.household_id.in_(select(Pickup.household_id).where(Pickup.collector_id == u)),
                ),
                WeighinRecord: lambda c: c.household_id.in_(
                    select(Pickup.household_id).where(Pickup.collector_id == u)
                ),
                # what they owe: weighing at their door recovers it (cloud.receivables)
                Receivable: lambda c: c.household_id.in_(
                    select(Pickup.household_id).where(Pickup.collector_id == u)
                ),
                Bin: lambda c: c.bin_id.in_(select(Pickup.bin_id).where(Pickup.collector_id == u)),
                User: lambda c: c.id == u,
            }
        return {}  # an unknown role reaches nothing

    # ------------------------------------------------------------------ writes

    def places(self, session: Session, obj: Any) -> bool:
        """Whether a new or changed row ``obj`` lies within reach.

        Its site (if it has one and it was set or changed) must be the caller's site, and
        its household (likewise) one the caller reaches; only the administrator creates
        sites.
        """
        if self.everything or isinstance(obj, AuditEntry):
            return True  # (an audit row records an action the rule already let through)
        if isinstance(obj, Site):
            return False
        if _changed(obj, "site_id") and (self.role == "collector" or obj.site_id != self.site_id):
            return False
        if isinstance(obj, Household) and not self.site_staff:
            return not _changed(obj, "id")  # only staff create households
        if _changed(obj, "household_id") and obj.household_id is not None:
            with session.no_autoflush:  # a scoped read: None when out of reach
                if session.get(Household, obj.household_id) is None:
                    return False
        return True

    # ------------------------------------------------------------------ events

    def admits(
        self,
        *,
        site_ids: Sequence[int | None] = (),
        household_id: int | None = None,
        collector_id: int | None = None,
    ) -> bool:
        """The same rule for a live event: its sites, household and collector."""
        if self.everything:
            return True
        if self.site_staff:
            return self.site_id is not None and self.site_id in site_ids
        if self.role == "household":
            return household_id is not None and household_id == self.household_id
        if self.role == "collector":
            return collector_id is not None and collector_id == self.user_id
        return False


#: the API's own background work (live hub, logins): reaches everything
SYSTEM = Scope("system")

#: every table the rule confines
SCOPED: tuple[type[Any], ...] = (
    Site,
    Household,
    MemberCard,
    Account,
    WeighinRecord,
    Payout,
    Receivable,
    Pickup,
    Bin,
    Device,
    Alert,
    DeadLetter,
    User,
    Disbursement,
    CashDay,
    CashMovement,
    RegistrationRequest,
    CardEnrolment,
    AuditEntry,
    DeviceKey,
    Approval,
    ConfigLogEntry,
    Hold,
)


@lru_cache(maxsize=4096)
def _criteria_of(scope: Scope) -> tuple[LoaderCriteriaOption, ...]:
    """A scope's options, kept for the scopes of the last 4,096 callers (a scope is a
    frozen value: role, site, user and household ids)."""
    return scope.build_criteria()


def _nothing(_cls: Any) -> ColumnElement[bool]:
    return false()


def _changed(obj: Any, attr: str) -> bool:
    state = inspect(obj)
    if not hasattr(type(obj), attr):
        return False
    if state.pending or state.transient:
        return True
    return bool(state.attrs[attr].history.has_changes())


def scope_of(session: Session) -> Scope:
    scope = session.info.get("scope")
    if not isinstance(scope, Scope):
        raise RuntimeError("an API session without a scope: refusing to run it")
    return scope


def install(sessions: sessionmaker[Session]) -> None:
    """Apply the rule to every session ``sessions`` makes (reads and writes)."""

    @event.listens_for(sessions, "do_orm_execute")
    def _confine(state: ORMExecuteState) -> None:
        if state.is_column_load or state.is_relationship_load:
            return  # refreshing a row already within reach
        if not (state.is_select or state.is_update or state.is_delete):
            return
        options = scope_of(state.session).criteria()
        if options:
            state.statement = state.statement.options(*options)

    @event.listens_for(sessions, "before_flush")
    def _guard(session: Session, _ctx: Any, _instances: Any) -> None:
        scope = scope_of(session)
        if scope.everything:
            return
        for obj in (*session.new, *session.dirty):
            if isinstance(obj, SCOPED) and not scope.places(session, obj):
                raise OutOfReach(f"{type(obj).__name__} outside the caller's reach")
