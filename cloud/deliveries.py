"""Doorstep pickups delivered to the depot: a collector's load enters the site's stock.

A weigh-in at the door (from a device that is not a station) is credited to its
household through the one crediting path (:mod:`cloud.crediting`) like any other, but
its kilos are on the collector's motorbike, not in a store room: they enter stock when
the load is weighed in at the depot (:func:`deliver_to_depot`), at the depot's weight,
as ``doorstep`` movements. The delivery names the doorstep weigh-ins it carries, each at
most once, so the gap between door and depot is known per delivery (the mass balance's
``doorstep_gap``, the ``collector_gap`` fraud rule). Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.models import Device, Site, WeighinRecord
from cloud.models.doorstep import DoorstepWeighin
from cloud.models.stock import DepotDelivery, DepotDeliveryWeighin, StockMovement
from cloud.stock import CREDITED, STATION_KINDS, check_qty, require_category, when


def deliver_to_depot(
    session: Session,
    *,
    site_id: int,
    collector_id: int,
    delivered_g: Mapping[str, int],
    weighin_ids: Sequence[int] = (),
    by: str,
    at: datetime | None = None,
    event_id: str | None = None,
    note: str | None = None,
) -> DepotDelivery:
    """A collector's load weighed in at the depot: it enters the site's stock.

    ``delivered_g`` is the depot's weight per category; ``weighin_ids`` the doorstep
    weigh-ins (credited, from a device that is not a station) the load carries, each
    delivered at most once. ``event_id`` makes a retry from the collector's phone the
    same delivery (returned as it is).
    """
    if event_id is not None:
        done = session.scalar(select(DepotDelivery).where(DepotDelivery.event_id == event_id))
        if done is not None:
            if (done.site_id, done.collector_id) != (site_id, collector_id):
                raise LedgerError(
                    f"delivery {event_id!r} was recorded for another site or collector"
                )
            return done
    if not delivered_g:
        raise LedgerError("a delivery needs at least one category's weight")
    for code, g in delivered_g.items():
        check_qty(g, f"delivered_g[{code}]")
        require_category(session, code)
    t = when(at)
    if session.get(Site, site_id) is None:
        raise NotFound(f"unknown site {site_id}")
    _check_doorstep(session, weighin_ids)
    delivery = DepotDelivery(
        site_id=site_id,
        collector_id=collector_id,
        event_id=event_id,
        delivered_at=t,
        created_by=by,
        note=note,
    )
    session.add(delivery)
    session.flush()
    if weighin_ids:
        session.execute(
            insert(DepotDeliveryWeighin),
            [{"weighin_id": w, "delivery_id": delivery.id} for w in sorted(set(weighin_ids))],
        )
    session.add_all(
        StockMovement(
            site_id=site_id,
            category_code=code,
            kind="doorstep",
            qty_g=g,
            effective_at=t,
            created_by=by,
            delivery_id=delivery.id,
        )
        for code, g in sorted(delivered_g.items())
    )
    session.flush()
    return delivery


def undelivered_doorstep(session: Session, *, collector_id: int) -> list[int]:
    """The collector's credited weigh-ins at the door that no depot delivery carries yet:
    what is on the motorbike (or was lost on the way) since the last unloading."""
    W, D = WeighinRecord, DoorstepWeighin
    q = (
        select(W.id)
        .join(D, D.weighin_id == W.id)
        .outerjoin(DepotDeliveryWeighin, DepotDeliveryWeighin.weighin_id == W.id)
        .where(
            D.collector_id == collector_id,
            W.status == CREDITED,
            W.household_id.is_not(None),
            DepotDeliveryWeighin.weighin_id.is_(None),
        )
        .order_by(W.id)
    )
    return list(session.scalars(q))


def _check_doorstep(session: Session, weighin_ids: Sequence[int]) -> None:
    W = WeighinRecord
    for chunk in chunks(weighin_ids):
        rows = session.execute(
            select(W.id, W.status, W.household_id, Device.kind, DepotDeliveryWeighin.delivery_id)
            .outerjoin(Device, Device.device_id == W.device_id)
            .outerjoin(DepotDeliveryWeighin, DepotDeliveryWeighin.weighin_id == W.id)
            .where(W.id.in_(chunk))
        ).all()
        found = {r[0] for r in rows}
        if set(chunk) - found:
            raise NotFound(f"unknown weigh-in {min(set(chunk) - found)}")
        for wid, status, household_id, kind, delivered_in in rows:
            if kind in STATION_KINDS:
                raise LedgerError(f"weigh-in {wid} is a station's: it entered stock when credited")
            if status != CREDITED or household_id is None:
                raise LedgerError(f"weigh-in {wid} is {status}, not credited to a household")
            if delivered_in is not None:
                raise LedgerError(f"weigh-in {wid} was delivered already (delivery {delivered_in})")
