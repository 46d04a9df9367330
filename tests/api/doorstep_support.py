"""What the JEKNYONG tests share: a seeded programme made ready for routes (the site at
its coordinates, a second plastic category, collector A on shift now)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cloud import pricing
from cloud.db import make_engine, session_factory
from cloud.models import Site
from cloud.models.doorstep import CollectorProfile
from tests.api.support import PRICES_FROM, World

DEPOT = (-7.4581, 109.2869)
DOOR_B = (-7.4632, 109.2911)


def prepare(url: str, world: World) -> None:
    """The site at its coordinates, a second category, collector A on shift now."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            site = s.get(Site, world.ids["site"])
            assert site is not None
            site.lat, site.lon = DEPOT
            pricing.ensure_category(s, code="plastic-mixed", name_id="Campur", name_en="Mixed")
            pricing.set_price(
                s, category="plastic-mixed", rp_per_kg=1_500, effective_from=PRICES_FROM
            )
            local = datetime.now(ZoneInfo("Asia/Jakarta")) - timedelta(hours=1)
            s.add(
                CollectorProfile(
                    user_id=world.ids["collector-a"],
                    site_id=site.id,
                    capacity_g=60_000,
                    shift_start=f"{local:%H}:00",
                    shift_hours=10,
                    empties_bins=False,
                    on_duty=True,
                )
            )
            s.commit()
    finally:
        engine.dispose()
