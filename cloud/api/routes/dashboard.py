"""What the dashboard's pages need to know about this installation (map tiles, zone),
and the operator overview's figures, aggregated per site and per kecamatan."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import case, func, select

from cloud.api.deps import CurrentPrincipal, SessionDep, SiteReader, StateDep
from cloud.api.errors import error_responses
from cloud.api.schemas import MapConfig, UiConfig
from cloud.cashbox import day_bounds, local_day
from cloud.models import Bin, Device, Pickup, Site, WeighinRecord
from cloud.pickups import bin_full

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


@router.get(
    "/ui-config",
    responses=error_responses(401),
    summary="The dashboard's settings: the map's tile server (or none) and the time zone",
)
def ui_config(_: CurrentPrincipal, state: StateDep) -> UiConfig:
    s = state.settings
    m = s.map
    return UiConfig(
        timezone=s.timezone,
        map=MapConfig(
            tiles_url=m.tiles_url,
            attribution=m.attribution,
            max_zoom=m.max_zoom,
            center=(m.center_lat, m.center_lon),
            zoom=m.zoom,
        ),
        min_pickup_g=s.doorstep.min_pickup_g,
        two_person_payout_rp=s.two_person_payout_rp,
    )


class SiteFigures(BaseModel):
    """One site's (or area's, or the whole reach's) figures on the overview."""

    bins: int = 0
    bins_full: int = 0
    weighins_today: int = 0
    net_g_today: int = 0
    amount_rp_today: int = 0
    pickups_open: int = 0
    #: devices registered (not revoked) and of those the ones online
    devices: int = 0
    devices_online: int = 0

    def add(self, other: SiteFigures) -> None:
        for name in SiteFigures.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class OverviewSite(SiteFigures):
    site_id: int
    code: str
    name: str
    area: str | None
    lat: float | None
    lon: float | None


class OverviewArea(SiteFigures):
    area: str | None = Field(description="the kecamatan (None: sites without one)")
    sites: int = 0


class Overview(BaseModel):
    day: date = Field(description="today, in the programme's time zone")
    total: SiteFigures
    areas: list[OverviewArea]
    sites: list[OverviewSite]


@router.get(
    "/overview",
    responses=error_responses(401, 403),
    summary="The operator overview's figures per site and per kecamatan (area), aggregated",
)
def overview(_: SiteReader, session: SessionDep, state: StateDep) -> Overview:
    """Bins (full = at or above their threshold), today's credited weigh-ins (count, net
    grams, rupiah), open pickups (open or assigned) and devices (online of registered),
    per site within the caller's reach, summed per area and overall: a few grouped
    queries, whatever the number of bins and devices."""
    zone = ZoneInfo(state.settings.timezone)
    day = local_day(datetime.now(UTC), zone)
    start, end = day_bounds(day, zone)
    per: dict[int | None, SiteFigures] = {}

    def at(site_id: int | None) -> SiteFigures:
        return per.setdefault(site_id, SiteFigures())

    full = case((bin_full(), 1), else_=0)
    for sid, n, n_full in session.execute(
        select(Bin.site_id, func.count(), func.sum(full)).where(Bin.active).group_by(Bin.site_id)
    ):
        at(sid).bins, at(sid).bins_full = int(n), int(n_full or 0)
    W = WeighinRecord
    for sid, n, g, rp in session.execute(
        select(W.site_id, func.count(), func.sum(W.net_g), func.sum(W.amount_rp))
        .where(W.status == "credited", W.effective_at >= start, W.effective_at < end)
        .group_by(W.site_id)
    ):
        f = at(sid)
        f.weighins_today, f.net_g_today, f.amount_rp_today = int(n), int(g or 0), int(rp or 0)
    for sid, n in session.execute(
        select(Pickup.site_id, func.count())
        .where(Pickup.status.in_(("open", "assigned")))
        .group_by(Pickup.site_id)
    ):
        at(sid).pickups_open = int(n)
    online = case((Device.online, 1), else_=0)
    for sid, n, n_online in session.execute(
        select(Device.site_id, func.count(), func.sum(online))
        .where(Device.revoked.is_(False))
        .group_by(Device.site_id)
    ):
        at(sid).devices, at(sid).devices_online = int(n), int(n_online or 0)
    sites = [
        OverviewSite(
            site_id=s.id,
            code=s.code,
            name=s.name,
            area=s.area,
            lat=s.lat,
            lon=s.lon,
            **per.get(s.id, SiteFigures()).model_dump(),
        )
        for s in session.scalars(select(Site).order_by(Site.area, Site.name))
    ]
    total = SiteFigures()
    for f in per.values():
        total.add(f)
    areas: dict[str | None, OverviewArea] = {}
    for s in sites:
        a = areas.setdefault(s.area, OverviewArea(area=s.area))
        a.add(s)
        a.sites += 1
    return Overview(day=day, total=total, areas=list(areas.values()), sites=sites)
