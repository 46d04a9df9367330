"""Collectors' routes: the operator's map of a site's routes, a collector's day.

Reading a route keeps it fresh first (:meth:`cloud.dispatch.Dispatcher.refresh`: a new
plan when a stop was added or changed, or a collector is late), so the answer is the
plan in force. Planning may take a few seconds (the engine's time limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import cash_float
from cloud.api.deps import (
    Admin,
    Operator,
    OwnCollector,
    Principal,
    SessionDep,
    SiteReader,
    StateDep,
)
from cloud.api.doorstep_schemas import (
    CollectorRouteOut,
    RouteDoneOut,
    RouteStopOut,
    SiteLocation,
    SiteRouteOut,
    SiteRoutesOut,
    UnservedOut,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.live import pickup_event
from cloud.api.routes.users import CollectorReader
from cloud.api.schemas import DbId
from cloud.api.scope import SYSTEM
from cloud.api.state import ApiState
from cloud.dispatch import current_plan
from cloud.models import OPEN_PICKUP_STATES, Bin, Household, Pickup, Site
from cloud.models.doorstep import CollectorProfile, DoorstepCompletion, RoutePlan

router = APIRouter(prefix="/api/v1", tags=["routes"])


def pickups_replanned(state: ApiState, plan: RoutePlan) -> None:
    """Stream the pickups a new plan changed (collector, ETA) as ``pickup`` events (the
    dispatcher's ``on_plan``: a plan made on its own thread reaches open pages too)."""
    changed = plan.plan.get("changed") or []
    if not changed:
        return
    with state.read_sessions(info={"scope": SYSTEM}) as session:
        for p in session.scalars(select(Pickup).where(Pickup.id.in_(changed))):
            state.hub.publish("pickup", pickup_event(p))


def _site(session: Session, principal: Principal, site_id: int) -> Site:
    """The site, if a staff user may see it (one tied to a site sees only that one)."""
    site = session.get(Site, site_id)
    if site is None or (principal.site_id is not None and principal.site_id != site_id):
        raise ApiError(404, "not-found", "no such site", title="Not found")
    return site


def _refresh(state: ApiState, session: Session, site_id: int, reason: str | None = None) -> None:
    """Keep the site's plan fresh, outside this request's transaction (on SQLite a write
    session holds the write lock, and a read session its snapshot, until it ends)."""
    session.rollback()
    if state.dispatcher is not None:
        state.dispatcher.refresh(site_id, reason)
    session.rollback()


def _title(p: Pickup, hh: Household | None, b: Bin | None) -> str:
    if hh is not None:
        return f"{hh.name} ({hh.member_no})"
    if b is not None:
        return b.name or b.bin_id
    return f"#{p.id}"


def _still_to_do(
    session: Session, items: Sequence[dict[str, Any]]
) -> dict[int, tuple[Pickup, Household | None, Bin | None]]:
    """The plan's pickups (by ``pickup_id``) still open or assigned, with whom and where."""
    ids = [i["pickup_id"] for i in items]
    return {
        p.id: (p, hh, b)
        for p, hh, b in session.execute(
            select(Pickup, Household, Bin)
            .outerjoin(Household, Household.id == Pickup.household_id)
            .outerjoin(Bin, Bin.bin_id == Pickup.bin_id)
            .where(Pickup.id.in_(ids), Pickup.status.in_(OPEN_PICKUP_STATES))
        )
    }


def _stops(session: Session, planned: Sequence[dict[str, Any]]) -> list[RouteStopOut]:
    """The plan's stops that are still to do, with where to go and whom to see."""
    rows = _still_to_do(session, planned)
    out = []
    for seq, s in enumerate(planned):
        found = rows.get(s["pickup_id"])
        if found is None:
            continue
        p, hh, b = found
        lat, lon = s["lat"], s["lon"]
        label = quote(_title(p, hh, b))
        out.append(
            RouteStopOut(
                pickup_id=p.id,
                seq=seq,
                kind=p.kind,
                status=p.status,
                lat=lat,
                lon=lon,
                eta=datetime.fromisoformat(s["start"]),
                arrival=datetime.fromisoformat(s["arrival"]),
                window_start=p.window_start,
                window_end=p.window_end,
                household_id=p.household_id,
                household_name=hh.name if hh else None,
                member_no=hh.member_no if hh else None,
                address=p.address or (hh.address if hh else None),
                phone=hh.phone if hh else None,
                categories=p.categories or ([p.category_code] if p.category_code else None),
                estimated_g=p.estimated_g,
                bin_id=p.bin_id,
                bin_name=b.name if b else None,
                note=p.note,
                maps_url=f"geo:{lat},{lon}?q={lat},{lon}({label})",
                web_maps_url=f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}",
            )
        )
    return out


def _unserved(session: Session, items: Sequence[dict[str, Any]]) -> list[UnservedOut]:
    rows = _still_to_do(session, items)
    return [
        UnservedOut(
            pickup_id=u["pickup_id"],
            reason=u["reason"],
            detail=u["detail"],
            title=_title(*rows[u["pickup_id"]]),
        )
        for u in items
        if u["pickup_id"] in rows
    ]


def _depot(site: Site) -> SiteLocation | None:
    return (
        SiteLocation(lat=site.lat, lon=site.lon)
        if site.lat is not None and site.lon is not None
        else None
    )


@router.get(
    "/sites/{site_id}/routes",
    responses=error_responses(401, 403, 404),
    summary="Every collector's route of a site (the plan in force, refreshed)",
)
def site_routes(
    site_id: DbId, principal: SiteReader, session: SessionDep, state: StateDep
) -> SiteRoutesOut:
    site = _site(session, principal, site_id)
    _refresh(state, session, site.id)
    return _site_routes(session, site)


@router.post(
    "/sites/{site_id}/routes/plan",
    responses=error_responses(401, 403, 404),
    summary="Plan the site's routes again now",
)
def plan_site(
    site_id: DbId, principal: Operator, session: SessionDep, state: StateDep
) -> SiteRoutesOut:
    site = _site(session, principal, site_id)
    _refresh(state, session, site.id, "manual")
    return _site_routes(session, site)


@router.put(
    "/sites/{site_id}/location",
    responses=error_responses(401, 403, 404, 422),
    summary="Where the site is: the depot of its collectors' routes",
)
def set_site_location(
    site_id: DbId, body: SiteLocation, principal: Admin, session: SessionDep
) -> SiteLocation:
    site = _site(session, principal, site_id)
    site.lat, site.lon = body.lat, body.lon
    session.commit()
    return body


def _site_routes(session: Session, site: Site) -> SiteRoutesOut:
    row = current_plan(session, site_id=site.id)
    problem = None if _depot(site) else "the site has no coordinates: set its location"
    if row is None:
        return SiteRoutesOut(
            site_id=site.id,
            site_name=site.name,
            depot=_depot(site),
            plan_id=None,
            planned_at=None,
            reason=None,
            matrix_source=None,
            solve_s=None,
            routes=[],
            unserved=[],
            problem=problem or "no plan yet: no collector on duty, or nothing to collect",
        )
    routes = [
        SiteRouteOut(
            collector_id=r["collector_id"],
            name=r["name"],
            depart=datetime.fromisoformat(r["depart"]),
            back=datetime.fromisoformat(r["back"]),
            distance_m=r["distance_m"],
            travel_s=r["travel_s"],
            load_g=r["load_g"],
            stops=_stops(session, r["stops"]),
        )
        for r in row.plan.get("routes", [])
    ]
    return SiteRoutesOut(
        site_id=site.id,
        site_name=site.name,
        depot=_depot(site),
        plan_id=row.id,
        planned_at=row.created_at,
        reason=row.reason,
        matrix_source=row.matrix_source,
        solve_s=row.solve_s,
        routes=routes,
        unserved=_unserved(session, row.plan.get("unserved", [])),
        problem=problem,
    )


@router.get(
    "/collectors/{user_id}/route",
    responses=error_responses(401, 404),
    summary="A collector's day: ordered stops with ETAs, done, the depot",
)
def collector_route(
    _: CollectorReader, collector: OwnCollector, session: SessionDep, state: StateDep
) -> CollectorRouteOut:
    prof = session.get(CollectorProfile, collector.id)
    site_id = prof.site_id if prof is not None else collector.site_id
    site = session.get(Site, site_id) if site_id is not None else None
    out = CollectorRouteOut(
        collector_id=collector.id,
        name=collector.display_name,
        site_id=site_id,
        site_name=site.name if site else None,
        depot=_depot(site) if site else None,
        capacity_g=prof.capacity_g if prof else None,
        float_rp=cash_float.float_rp(session, collector_id=collector.id),
    )
    if site is None or prof is None:
        out.problem = "no collector settings yet: an operator sets the site, box and shift"
        return out
    _refresh(state, session, site.id)
    zone = ZoneInfo(site.timezone or state.settings.timezone)
    today = datetime.combine(datetime.now(zone).date(), time(0), zone)
    out.done = _done_today(session, collector.id, today)
    row = current_plan(session, site_id=site.id)
    if row is None:
        out.problem = "no plan yet" if _depot(site) else "the site has no coordinates"
        return out
    mine = next((r for r in row.plan.get("routes", []) if r["collector_id"] == collector.id), None)
    out.plan_id, out.planned_at, out.reason = row.id, row.created_at, row.reason
    out.matrix_source = row.matrix_source
    if mine is not None:
        out.depart = datetime.fromisoformat(mine["depart"])
        out.back = datetime.fromisoformat(mine["back"])
        out.distance_m, out.load_g = mine["distance_m"], mine["load_g"]
        out.stops = _stops(session, mine["stops"])
    pinned = {
        p
        for (p,) in session.execute(
            select(Pickup.id).where(
                Pickup.collector_id == collector.id, Pickup.status == "assigned"
            )
        )
    }
    out.unserved = _unserved(
        session, [u for u in row.plan.get("unserved", []) if u["pickup_id"] in pinned]
    )
    return out


def _done_today(session: Session, collector_id: int, since: datetime) -> list[RouteDoneOut]:
    rows = session.execute(
        select(Pickup, DoorstepCompletion, Household, Bin)
        .outerjoin(DoorstepCompletion, DoorstepCompletion.pickup_id == Pickup.id)
        .outerjoin(Household, Household.id == Pickup.household_id)
        .outerjoin(Bin, Bin.bin_id == Pickup.bin_id)
        .where(
            Pickup.collector_id == collector_id,
            Pickup.status == "done",
            Pickup.completed_at >= since,
        )
        .order_by(Pickup.completed_at.desc())
    )
    return [
        RouteDoneOut(
            pickup_id=p.id,
            completed_at=p.completed_at,
            title=_title(p, hh, b),
            collected_g=p.collected_g,
            total_rp=c.total_rp if c else None,
            payment=c.payment if c else None,
        )
        for p, c, hh, b in rows
    ]
