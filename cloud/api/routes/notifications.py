"""Notifications: a household's inbox and preferences; the operators' view and resend."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud.api.deps import (
    AccountReader,
    BeforeId,
    Limit,
    Operator,
    OwnHousehold,
    OwnHouseholdId,
    Principal,
    SessionDep,
    SiteReader,
    StateDep,
    require_role,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import DbId
from cloud.models import utcnow
from cloud.models.notifications import (
    DELIVERY_STATES,
    INAPP,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)
from cloud.notifications import views
from cloud.notifications.preferences import (
    PreferenceError,
    channel_registry,
    household_channels,
    set_preference,
)
from cloud.notifications.queue import ResendError, resend

router = APIRouter(prefix="/api/v1", tags=["notifications"])

#: the household itself (the administrator too): marking its own messages read
HouseholdSelf = Annotated[Principal, Depends(require_role("household"))]
#: changing how a household is told: the household, or an operator of its site
PreferenceWriter = Annotated[Principal, Depends(require_role("operator", "household"))]

Hhmm = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,19}$")]


class InboxOut(BaseModel):
    unread: int
    items: list[views.InboxItem]


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the messages to mark read; omitted = all
    ids: list[DbId] | None = Field(default=None, max_length=500)


class PreferenceOut(BaseModel):
    opt_out: bool
    #: the channels the household is told on now (after defaults and opt-out)
    channels: list[str]
    #: the household's own choice; None = the programme's defaults
    chosen_channels: list[str] | None
    lang: Literal["id", "en"]
    #: the household's own quiet hours ["21:00", "06:00"]; None = the programme's
    quiet_hours: list[str] | None
    #: every channel a household can choose
    available: list[str]


class PreferenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opt_out: bool | None = None
    channels: list[ChannelName] | None = Field(default=None, max_length=10)
    #: back to the programme's default channels
    default_channels: bool = False
    lang: Literal["id", "en"] | None = None
    #: local ["start", "end"], e.g. ["21:00", "06:00"]; equal times: none
    quiet_hours: Annotated[list[Hhmm], Field(min_length=2, max_length=2)] | None = None
    default_quiet_hours: bool = False


class DeliveryOut(BaseModel):
    id: int
    notification_id: int
    event: str
    audience: str
    household_id: int | None
    site_id: int | None
    channel: str
    recipient: str
    status: str
    attempts: int
    resends: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    body: str | None
    suppressed: str | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None
    by: str


def _delivery_out(d: NotificationDelivery, n: Notification) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        notification_id=n.id,
        event=n.event,
        audience=n.audience,
        household_id=n.household_id,
        site_id=n.site_id,
        channel=d.channel,
        recipient=d.recipient,
        status=d.status,
        attempts=d.attempts,
        resends=d.resends,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        sent_at=d.sent_at,
        last_error=d.last_error,
        body=d.body,
        suppressed=n.suppressed,
    )


# -- the household's own ---------------------------------------------------------------


@router.get(
    "/households/{household_id}/inbox",
    responses=error_responses(401, 403, 404, 422),
    summary="The household's in-app messages, newest first",
)
def get_inbox(
    _: AccountReader,
    household_id: OwnHouseholdId,
    session: SessionDep,
    state: StateDep,
    limit: Limit = 50,
    before_id: BeforeId = None,
) -> InboxOut:
    items, unread = views.inbox(
        session,
        household_id=household_id,
        tz=state.settings.timezone,
        limit=limit,
        before_id=before_id,
    )
    return InboxOut(unread=unread, items=items)


@router.post(
    "/households/{household_id}/inbox/read",
    responses=error_responses(401, 403, 404, 422),
    summary="Mark in-app messages read (all when no ids are given)",
)
def read_inbox(
    _: HouseholdSelf, household: OwnHousehold, body: MarkRead, session: SessionDep
) -> dict[str, int]:
    changed = views.mark_read(session, household_id=household.id, ids=body.ids, now=utcnow())
    session.commit()
    return {"marked": changed}


def _preference_out(session: SessionDep, household_id: int) -> PreferenceOut:
    pref = session.get(NotificationPreference, household_id)
    registry = channel_registry(session)
    quiet = None
    if pref is not None and pref.quiet_start is not None and pref.quiet_end is not None:
        quiet = [pref.quiet_start, pref.quiet_end]
    lang: Literal["id", "en"] = "en" if pref is not None and pref.lang == "en" else "id"
    return PreferenceOut(
        opt_out=bool(pref and pref.opt_out),
        channels=household_channels(pref, registry),
        chosen_channels=pref.channels if pref is not None else None,
        lang=lang,
        quiet_hours=quiet,
        available=[INAPP, *sorted(registry)],
    )


@router.get(
    "/households/{household_id}/notification-preferences",
    responses=error_responses(401, 403, 404),
    summary="How the household is told (channels, language, quiet hours)",
)
def get_preferences(
    _: AccountReader, household: OwnHousehold, session: SessionDep
) -> PreferenceOut:
    return _preference_out(session, household.id)


@router.put(
    "/households/{household_id}/notification-preferences",
    responses=error_responses(401, 403, 404, 422),
    summary="Change channels, language, quiet hours or opt out (the household or staff)",
)
def put_preferences(
    principal: PreferenceWriter,
    body: PreferenceUpdate,
    household: OwnHousehold,
    session: SessionDep,
) -> PreferenceOut:
    try:
        set_preference(
            session,
            household_id=household.id,
            by=principal.label,
            opt_out=body.opt_out,
            channels=body.channels,
            reset_channels=body.default_channels,
            lang=body.lang,
            quiet_hours=(body.quiet_hours[0], body.quiet_hours[1]) if body.quiet_hours else None,
            reset_quiet_hours=body.default_quiet_hours,
        )
    except PreferenceError as exc:
        raise ApiError(422, "validation", str(exc)) from None
    session.commit()
    return _preference_out(session, household.id)


# -- operators ---------------------------------------------------------------------------


@router.get(
    "/notifications",
    responses=error_responses(401, 403, 422),
    summary="Deliveries (sent, failed, pending), newest first",
)
def list_deliveries(
    principal: SiteReader,
    session: SessionDep,
    status: Annotated[Literal[DELIVERY_STATES] | None, Query()] = None,  # type: ignore[valid-type]
    channel: Annotated[ChannelName | None, Query()] = None,
    event: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> list[DeliveryOut]:
    rows = views.deliveries(
        session,
        site_id=principal.site_id,
        status=status,
        channel=channel,
        event=event,
        limit=limit,
        before_id=before_id,
    )
    return [_delivery_out(d, n) for d, n in rows]


@router.get(
    "/notifications/counters",
    responses=error_responses(401, 403),
    summary="Per channel: deliveries in each state; sent and dead in the last 24 h",
)
def delivery_counters(principal: SiteReader, session: SessionDep) -> dict[str, dict[str, int]]:
    return views.counters(session, now=utcnow(), site_id=principal.site_id)


def _own_delivery(principal: Principal, session: SessionDep, delivery_id: int) -> DeliveryOut:
    row = views.delivery_of(session, delivery_id=delivery_id, site_id=principal.site_id)
    if row is None:
        raise ApiError(404, "not-found", "no such notification delivery", title="Not found")
    return _delivery_out(*row)


@router.get(
    "/notifications/{delivery_id}/attempts",
    responses=error_responses(401, 403, 404),
    summary="Every try of a delivery and every resend, with who did it",
)
def delivery_attempts(
    principal: SiteReader, delivery_id: DbId, session: SessionDep
) -> list[AttemptOut]:
    _own_delivery(principal, session, delivery_id)
    return [AttemptOut.model_validate(a) for a in views.attempts(session, delivery_id=delivery_id)]


@router.post(
    "/notifications/{delivery_id}/resend",
    responses=error_responses(401, 403, 404, 409),
    summary="Send a dead or sent message again, or retry a waiting one now (audited)",
)
def resend_delivery(principal: Operator, delivery_id: DbId, session: SessionDep) -> DeliveryOut:
    _own_delivery(principal, session, delivery_id)
    try:
        resend(session, delivery_id=delivery_id, by=principal.label, now=utcnow())
    except ResendError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    session.commit()
    return _own_delivery(principal, session, delivery_id)
