"""What the dashboard's pages need to know about this installation (map tiles, zone)."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.deps import CurrentPrincipal, StateDep
from cloud.api.errors import error_responses
from cloud.api.schemas import MapConfig, UiConfig

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
