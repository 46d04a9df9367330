"""A site's motorbike routes: the board read from the ledger, planned, written back.

:func:`build_board` reads what a plan needs: the depot (the site's coordinates), the
collectors on duty with their shift, box and whether they empty bins
(:class:`~cloud.models.doorstep.CollectorProfile`), the stops — households' open
requests with a pin (their estimate, the window they asked for) and the site's full
bins for collectors who empty bins — and each collector's progress since it last left
the depot (stops done, where, what is in the box). :func:`solve_board` plans it with
:mod:`cloud.routing` (always from *now*: the rest of the shift); :func:`apply_plan`
assigns the pickups (households already told who comes stay with that collector: pins),
writes each one's ETA and place on its route, and keeps the plan as shown.

:func:`stale_reason` says when a plan must be made again: none yet, a stop was added or
changed (a new request, a bin full), or a collector is late
(:attr:`~cloud.doorstep.DoorstepSettings.late_after_s` behind the next planned start).
:class:`Dispatcher` does that for the API, one plan at a time per site and never inside
a database transaction (a solve takes up to the engine's time limit).

One module of ~460 lines on purpose: the board's shape, the rule of when a plan is
stale (a digest of that board) and the dispatcher that applies it change together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import pickups
from cloud.doorstep import DoorstepSettings
from cloud.models import OPEN_PICKUP_STATES, Bin, Pickup, Site, utcnow
from cloud.models.auth import User
from cloud.models.doorstep import CollectorProfile, DoorstepCompletion, RoutePlan
from cloud.routing import (
    Collector,
    LatLon,
    MatrixError,
    MatrixProvider,
    Plan,
    Progress,
    RoutingError,
    RoutingSettings,
    Stop,
    Window,
    replan_routes,
)

log = logging.getLogger(__name__)


def stop_id(pickup_id: int) -> str:
    return f"pickup:{pickup_id}"


def pickup_of(stop: str) -> int:
    return int(stop.partition(":")[2])


def shift_of(profile: CollectorProfile, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The collector's shift in force at ``now``, or the next one (local start time)."""
    hh, mm = (int(x) for x in profile.shift_start.split(":"))
    day = now.astimezone(zone).date()
    for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
        start = datetime.combine(d, time(hh, mm), zone)
        end = start + timedelta(hours=profile.shift_hours)
        if end > now:
            return start, end
    raise AssertionError("a shift of at most 24 h always ends after now within two days")


@dataclass
class Board:
    """Everything one plan of a site is made from (read in one transaction)."""

    site_id: int
    now: datetime
    depot: LatLon | None
    collectors: list[Collector] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    stops: list[Stop] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    pins: dict[str, str] = field(default_factory=dict)
    #: household requests with an address but no pin: no route can reach them
    unplaced: list[int] = field(default_factory=list)
    #: each open pickup's (status, collector) when the board was read: a pickup someone
    #: else assigned while the plan was being made keeps that (:func:`apply_plan`)
    seen: dict[int, tuple[str, int | None]] = field(default_factory=dict)

    def digests(self) -> dict[str, str]:
        """A digest per stop (what it is) and one for the collectors (``""``)."""
        out = {
            s.id: _digest([s.location.lat, s.location.lon, s.weight_g, s.window, s.collectors])
            for s in self.stops
        }
        out[""] = _digest(
            [
                (c.id, c.shift_start, c.shift_end, c.capacity_g, c.capacity_ml)
                for c in self.collectors
            ]
        )
        return out


def _digest(value: Any) -> str:
    raw = json.dumps(value, default=lambda v: sorted(v) if isinstance(v, frozenset) else str(v))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def build_board(
    session: Session, *, site_id: int, settings: DoorstepSettings, now: datetime | None = None
) -> Board:
    """Read the site's depot, collectors on duty, open stops and progress."""
    now = now or utcnow()
    site = session.get(Site, site_id)
    if site is None:
        raise ValueError(f"unknown site {site_id}")
    zone = ZoneInfo(site.timezone or "Asia/Jakarta")
    board = Board(
        site_id,
        now,
        LatLon(site.lat, site.lon) if site.lat is not None and site.lon is not None else None,
    )
    since: dict[str, datetime] = {}
    bin_collectors: set[str] = set()
    for prof, user in session.execute(
        select(CollectorProfile, User)
        .join(User, User.id == CollectorProfile.user_id)
        .where(
            CollectorProfile.site_id == site_id,
            CollectorProfile.on_duty.is_(True),
            User.active.is_(True),
            User.role == "collector",
        )
        .order_by(User.id)
    ):
        start, end = shift_of(prof, now, zone)
        cid = str(user.id)
        board.collectors.append(
            Collector(cid, start, end, capacity_g=prof.capacity_g, capacity_ml=prof.capacity_ml)
        )
        board.names[cid] = user.display_name
        since[cid] = max(start, prof.unloaded_at) if prof.unloaded_at else start
        if prof.empties_bins:
            bin_collectors.add(cid)
    known = {c.id for c in board.collectors}
    shift_span = (
        (min(c.shift_start for c in board.collectors), max(c.shift_end for c in board.collectors))
        if board.collectors
        else None
    )
    open_rows = session.execute(
        select(Pickup, Bin)
        .outerjoin(Bin, Bin.bin_id == Pickup.bin_id)
        .where(Pickup.site_id == site_id, Pickup.status.in_(OPEN_PICKUP_STATES))
        .order_by(Pickup.id)
    )
    for p, b in open_rows:
        sid = stop_id(p.id)
        board.seen[p.id] = (p.status, p.collector_id)
        if p.household_id is not None:
            if p.lat is None or p.lon is None:
                board.unplaced.append(p.id)
                continue
            window = None
            if p.window_start is not None and p.window_end is not None:
                if shift_span and (p.window_end < shift_span[0] or p.window_start > shift_span[1]):
                    continue  # another day's request: not this shift's stop
                window = Window(p.window_start, p.window_end)
            board.stops.append(
                Stop(
                    sid,
                    LatLon(p.lat, p.lon),
                    weight_g=p.estimated_g or settings.estimate_g_per_category,
                    service_s=settings.service_s,
                    window=window,
                )
            )
            if p.status == "assigned" and str(p.collector_id) in known:
                board.pins[sid] = str(p.collector_id)  # the household was told who comes
        elif b is not None and b.lat is not None and b.lon is not None and bin_collectors:
            board.stops.append(
                Stop(
                    sid,
                    LatLon(b.lat, b.lon),
                    weight_g=settings.bin_estimate_g,
                    kind="bin",
                    service_s=settings.bin_service_s,
                    collectors=frozenset(bin_collectors),
                    priority=min(100, 10 * p.priority),
                )
            )
    board.progress = _progress(session, board, since)
    return board


def _progress(session: Session, board: Board, since: dict[str, datetime]) -> list[Progress]:
    """Each collector's stops done since it left the depot: where it is, what it carries."""
    if not since:
        return []
    done: dict[str, list[tuple[datetime, str, LatLon | None, int]]] = defaultdict(list)
    rows = session.execute(
        select(Pickup, DoorstepCompletion, Bin)
        .outerjoin(DoorstepCompletion, DoorstepCompletion.pickup_id == Pickup.id)
        .outerjoin(Bin, Bin.bin_id == Pickup.bin_id)
        .where(
            Pickup.site_id == board.site_id,
            Pickup.status == "done",
            Pickup.collector_id.in_([int(c) for c in since]),
            Pickup.completed_at >= min(since.values()),
        )
    )
    for p, comp, b in rows:
        cid = str(p.collector_id)
        assert p.completed_at is not None
        if p.completed_at < since[cid]:
            continue
        lat, lon = (p.lat, p.lon) if b is None else (b.lat, b.lon)
        if comp is not None and comp.lat is not None and comp.lon is not None:
            lat, lon = comp.lat, comp.lon  # where the phone was when it completed
        where = LatLon(lat, lon) if lat is not None and lon is not None else None
        done[cid].append((p.completed_at, stop_id(p.id), where, p.collected_g or 0))
    out = []
    for cid, items in sorted(done.items()):
        items.sort()
        last = next((w for _, _, w, _ in reversed(items) if w is not None), board.depot)
        if last is None:
            continue
        out.append(
            Progress(
                cid,
                position=last,
                at=board.now,
                load_g=sum(g for *_, g in items),
                done=tuple(s for _, s, _, _ in items),
            )
        )
    return out


def solve_board(board: Board, matrix: MatrixProvider, settings: RoutingSettings) -> Plan:
    """Plan the rest of the shift from now (blocks up to the engine's time limit)."""
    assert board.depot is not None
    return replan_routes(
        depot=board.depot,
        stops=board.stops,
        collectors=board.collectors,
        progress=board.progress,
        now=board.now,
        matrix=matrix,
        settings=settings,
        pins=board.pins,
    )


def plan_json(board: Board, plan: Plan) -> dict[str, Any]:
    """The plan as stored and shown (times ISO 8601 UTC, one entry per collector)."""

    def at(t: datetime) -> str:
        return t.astimezone(board.now.tzinfo).isoformat()

    return {
        "now": at(board.now),
        "depot": {"lat": board.depot.lat, "lon": board.depot.lon} if board.depot else None,
        "routes": [
            {
                "collector_id": int(r.collector_id),
                "name": board.names.get(r.collector_id, r.collector_id),
                "depart": at(r.depart),
                "back": at(r.back),
                "origin": {"lat": r.origin.lat, "lon": r.origin.lon},
                "distance_m": r.distance_m,
                "travel_s": r.travel_s,
                "load_g": r.load_g,
                "done": [pickup_of(s) for s in r.done],
                "stops": [
                    {
                        "pickup_id": pickup_of(s.stop_id),
                        "lat": s.location.lat,
                        "lon": s.location.lon,
                        "arrival": at(s.arrival),
                        "start": at(s.start),
                        "departure": at(s.departure),
                        "load_g": s.load_g,
                    }
                    for s in r.stops
                ],
            }
            for r in plan.routes
        ],
        "unserved": [
            {"pickup_id": pickup_of(u.stop_id), "reason": u.reason, "detail": u.detail}
            for u in plan.unserved
        ]
        + [
            {
                "pickup_id": p,
                "reason": "no_location",
                "detail": "the household gave an address but no pin: place it on the map",
            }
            for p in board.unplaced
        ],
        "digests": board.digests(),
        "engine": plan.engine,
    }


def apply_plan(session: Session, board: Board, plan: Plan, *, reason: str) -> RoutePlan:
    """Assign the planned pickups, write their ETAs and keep the plan. Flushes.

    A pickup done, cancelled or assigned by someone else (an operator, a collector
    taking it) since the board was read is left as it is: the plan was made without
    knowing, and the next plan starts from it. The pickups whose collector or ETA
    changed are in ``row.plan["changed"]``.
    """
    planned: set[int] = set()
    changed: list[int] = []
    for r in plan.routes:
        for seq, s in enumerate(r.stops):
            pid = pickup_of(s.stop_id)
            p = session.get(Pickup, pid, with_for_update=True)
            if p is None or p.status not in OPEN_PICKUP_STATES:
                continue
            if board.seen.get(pid) != (p.status, p.collector_id):
                continue  # changed while the plan was made: theirs stands
            before = (p.status, p.collector_id, p.eta_at)
            if p.status == "open" or p.collector_id != int(r.collector_id):
                pickups.assign_pickup(session, pickup_id=pid, collector_id=int(r.collector_id))
            p.eta_at, p.route_seq = s.start, seq
            planned.add(pid)
            if (p.status, p.collector_id, p.eta_at) != before:
                changed.append(pid)
    for u in plan.unserved:
        p = session.get(Pickup, pickup_of(u.stop_id))
        if p is None or board.seen.get(p.id) != (p.status, p.collector_id):
            continue
        if p.id not in planned and p.eta_at is not None:
            p.eta_at, p.route_seq = None, None
            changed.append(p.id)
    row = RoutePlan(
        site_id=board.site_id,
        created_at=board.now,
        reason=reason,
        fingerprint=_digest(board.digests()),
        plan={**plan_json(board, plan), "changed": changed},
        matrix_source=plan.matrix_source[:200],
        solve_s=plan.solve_s,
    )
    session.add(row)
    session.flush()
    return row


def current_plan(session: Session, *, site_id: int) -> RoutePlan | None:
    return session.scalar(
        select(RoutePlan).where(RoutePlan.site_id == site_id).order_by(RoutePlan.id.desc()).limit(1)
    )


def stale_reason(session: Session, board: Board, settings: DoorstepSettings) -> str | None:
    """Why the site's plan must be made again (None: it still holds)."""
    row = current_plan(session, site_id=board.site_id)
    if row is None:
        return "first"
    known: dict[str, str] = row.plan.get("digests", {})
    now = board.digests()
    if now[""] != known.get("") or any(known.get(k) != v for k, v in now.items() if k):
        return "changed"
    late = timedelta(seconds=settings.late_after_s)
    open_ids = {pickup_of(s.id) for s in board.stops}
    for route in row.plan.get("routes", []):
        nxt = next((s for s in route["stops"] if s["pickup_id"] in open_ids), None)
        if nxt is not None and datetime.fromisoformat(nxt["start"]) + late < board.now:
            return "late"
    return None


class Dispatcher:
    """Keeps each site's plan fresh for the API: one plan at a time per site (per
    process), solved outside any transaction, written in a short one.

    ``read_sessions`` and ``sessions`` open a read and a write session (the API's);
    ``on_plan`` is told of each new plan (the API streams the pickups it changed).
    Failures of the engine or the matrix leave the previous plan in force (logged).
    """

    def __init__(
        self,
        read_sessions: Callable[[], Session],
        sessions: Callable[[], Session],
        *,
        matrix: MatrixProvider,
        routing: RoutingSettings,
        settings: DoorstepSettings,
        on_plan: Callable[[RoutePlan], None] | None = None,
    ) -> None:
        self._read_sessions = read_sessions
        self._sessions = sessions
        self._matrix = matrix
        self._routing = routing
        self._settings = settings
        self._on_plan = on_plan
        self._locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._pending: set[int] = set()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch")

    def refresh_soon(self, site_id: int, reason: str | None = None) -> None:
        """:meth:`refresh` on the dispatcher's own thread, after the caller's transaction
        (a request's session may hold SQLite's write lock until it ends). A refresh
        already waiting for the site covers this one."""
        with self._guard:
            if site_id in self._pending:
                return
            self._pending.add(site_id)

        def run() -> None:
            with self._guard:
                self._pending.discard(site_id)
            try:
                self.refresh(site_id, reason)
            except Exception:
                log.exception("refreshing the routes of site %s failed", site_id)

        self._background.submit(run)

    def close(self) -> None:
        """Stop the background thread (a refresh under way finishes)."""
        self._background.shutdown(wait=False, cancel_futures=True)

    def _lock(self, site_id: int) -> threading.Lock:
        with self._guard:
            return self._locks[site_id]

    def refresh(self, site_id: int, reason: str | None = None) -> RoutePlan | None:
        """Plan the site again if ``reason`` is given or its plan is stale; the new plan
        (None when nothing was planned)."""
        with self._lock(site_id):
            with self._read_sessions() as session:
                board = build_board(session, site_id=site_id, settings=self._settings)
                why = reason or stale_reason(session, board, self._settings)
            if why is None or board.depot is None:
                return None
            try:
                plan = solve_board(board, self._matrix, self._routing)
            except (RoutingError, MatrixError, ValueError):
                log.exception("planning the routes of site %s failed; the last plan holds", site_id)
                return None
            with self._sessions() as session:
                row = apply_plan(session, board, plan, reason=why)
                session.commit()
                session.refresh(row)
                session.expunge(row)
            if self._on_plan is not None:
                self._on_plan(row)
            log.info(
                "site %s routes planned (%s): %d routes, %d unserved, %.2f s, %s",
                site_id,
                why,
                len(plan.routes),
                len(plan.unserved),
                plan.solve_s,
                plan.matrix_source,
            )
            return row
