"""A site's routes from the ledger (cloud.dispatch): what is a stop, who may serve it,
when a plan is made again (a stop added, a collector late), households kept with the
collector they were told of.

mutant: bins become stops for every collector (empties_bins ignored) -> test_board fails
mutant: another day's window kept as a stop of this shift -> test_board fails
mutant: stale_reason without the late check -> test_replans fails ("late" expected)
mutant: assigned household stops not pinned -> test_board fails (no pin)
mutant: apply_plan skips assign_pickup for open pickups -> nothing assigned, test_replans fails
mutant: apply_plan without the "changed since the board was read" check -> the operator's
        assignment is undone, test_an_assignment_made_while_planning_stands fails
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud import doorstep, households, pickups, pricing
from cloud.auth import create_user
from cloud.dispatch import (
    Dispatcher,
    apply_plan,
    build_board,
    current_plan,
    solve_board,
    stale_reason,
)
from cloud.models import Pickup, utcnow
from cloud.models.doorstep import CollectorProfile
from cloud.routing import RoutingSettings, matrix_provider

pytestmark = pytest.mark.integration

SETTINGS = doorstep.DoorstepSettings()
ROUTING = RoutingSettings(solve_in_worker=False, solve_timeout_s=5)


def sqlite_only() -> pytest.MarkDecorator:
    return pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)


def world(session: Session) -> dict[str, int]:
    pricing.ensure_category(session, code="plastic-pet", name_id="PET", name_en="PET")
    site = households.ensure_site(session, code="bank01", name="Bank 01")
    site.lat, site.lon = -7.4581, 109.2869
    ids = {"site": site.id}
    start = f"{datetime.now(ZoneInfo('Asia/Jakarta')) - timedelta(hours=1):%H}:00"
    for name, bins in (("a", True), ("b", False)):
        u = create_user(
            session, username=f"col-{name}", password="x" * 12, role="collector", site_id=site.id
        )
        session.add(
            CollectorProfile(
                user_id=u.id,
                site_id=site.id,
                capacity_g=60_000,
                shift_start=start,
                shift_hours=10,
                empties_bins=bins,
                on_duty=True,
            )
        )
        ids[name] = u.id
    for i, (lat, lon) in enumerate(((-7.4602, 109.2890), (-7.4550, 109.2840), (-7.4610, 109.2800))):
        hh = households.register_household(
            session, member_no=f"M-{i}", name=f"HH {i}", site="bank01"
        )
        ids[f"hh{i}"] = hh.id
        hh.lat, hh.lon = lat, lon
    session.flush()
    return ids


def ask(session: Session, household_id: int, **kw: object) -> Pickup:
    return doorstep.request_pickup(
        session, household_id=household_id, categories=["plastic-pet"], settings=SETTINGS, **kw
    )  # type: ignore[arg-type]


@sqlite_only()
def test_board(session: Session) -> None:
    ids = world(session)
    now = utcnow()
    today = ask(session, ids["hh0"], window=(now, now + timedelta(hours=2)))
    later = ask(
        session, ids["hh1"], window=(now + timedelta(days=3), now + timedelta(days=3, hours=2))
    )
    address_only = ask(session, ids["hh2"], address="Jl. Dahlia 2")
    address_only.lat = address_only.lon = None
    pickups.assign_pickup(session, pickup_id=today.id, collector_id=ids["b"])  # B was told
    pickups.register_bin(session, bin_id="bn-01", site="bank01", lat=-7.4570, lon=109.2855)
    full = pickups.open_pickup(session, kind="bin_full", bin_id="bn-01", priority=2)
    session.commit()
    board = build_board(session, site_id=ids["site"], settings=SETTINGS, now=now)
    stops = {s.id: s for s in board.stops}
    assert set(stops) == {f"pickup:{today.id}", f"pickup:{full.id}"}  # not the other day's
    assert stops[f"pickup:{full.id}"].collectors == frozenset({str(ids["a"])})
    assert stops[f"pickup:{today.id}"].window is not None
    assert board.unplaced == [address_only.id]
    assert board.pins == {f"pickup:{today.id}": str(ids["b"])}  # kept with whom it was told
    assert later.id not in board.unplaced
    assert [c.id for c in board.collectors] == [str(ids["a"]), str(ids["b"])]


@sqlite_only()
def test_replans(session: Session, engine: object) -> None:
    ids = world(session)
    now = utcnow()
    first = ask(session, ids["hh0"], window=(now, now + timedelta(hours=4)))
    session.commit()
    factory = sessionmaker(bind=engine)  # type: ignore[call-overload]
    d = Dispatcher(
        factory, factory, matrix=matrix_provider(ROUTING), routing=ROUTING, settings=SETTINGS
    )
    plan = d.refresh(ids["site"])
    assert plan is not None
    assert plan.reason == "first"
    session.expire_all()
    p = session.get(Pickup, first.id)
    assert p is not None
    assert p.status == "assigned"
    assert p.eta_at is not None
    told = p.collector_id
    session.rollback()  # (SQLite: this session's transaction holds the write lock)
    assert d.refresh(ids["site"]) is None  # nothing changed: the plan holds

    second = ask(session, ids["hh1"], window=(now, now + timedelta(hours=4)))
    session.commit()
    again = d.refresh(ids["site"])
    assert again is not None
    assert again.reason == "changed"
    session.expire_all()
    assert session.get(Pickup, first.id).collector_id == told  # type: ignore[union-attr]
    assert session.get(Pickup, second.id).status == "assigned"  # type: ignore[union-attr]

    # an hour on, nobody has moved: the next planned start is long past
    row = current_plan(session, site_id=ids["site"])
    assert row is not None
    starts = [datetime.fromisoformat(s["start"]) for r in row.plan["routes"] for s in r["stops"]]
    late = min(starts) + timedelta(seconds=SETTINGS.late_after_s + 60)
    board = build_board(session, site_id=ids["site"], settings=SETTINGS, now=late)
    assert stale_reason(session, board, SETTINGS) == "late"
    d.close()


@sqlite_only()
def test_an_assignment_made_while_planning_stands(session: Session) -> None:
    """The dispatcher reads the board, solves (seconds), then applies: an operator who
    assigned a pickup in between keeps that assignment; the rest of the plan applies."""
    ids = world(session)
    now = utcnow()
    mine = ask(session, ids["hh0"], window=(now, now + timedelta(hours=4)))
    other = ask(session, ids["hh1"], window=(now, now + timedelta(hours=4)))
    session.commit()
    board = build_board(session, site_id=ids["site"], settings=SETTINGS, now=now)
    plan = solve_board(board, matrix_provider(ROUTING), ROUTING)
    planned = {
        int(s.stop_id.split(":")[1]): int(r.collector_id) for r in plan.routes for s in r.stops
    }
    assert planned.keys() == {mine.id, other.id}
    # meanwhile the operator gives ``mine`` to the collector the plan did not choose
    told = ids["b"] if planned[mine.id] == ids["a"] else ids["a"]
    pickups.assign_pickup(session, pickup_id=mine.id, collector_id=told)
    session.commit()

    row = apply_plan(session, board, plan, reason="test")
    session.commit()
    session.expire_all()
    kept = session.get(Pickup, mine.id)
    assert kept is not None
    assert (kept.status, kept.collector_id) == ("assigned", told)  # the operator's stands
    assert mine.id not in row.plan["changed"]
    applied = session.get(Pickup, other.id)
    assert applied is not None
    assert (applied.status, applied.collector_id) == ("assigned", planned[other.id])
    assert applied.eta_at is not None
