"""The live stream: one hub per API process fanning events out to SSE subscribers.

Sources:

* the broker (through :class:`cloud.api.mqtt.MqttLink`): ``fill`` (bin levels) and
  ``device`` (status and health) as they arrive;
* the ledger, polled every ``stream_poll_s`` while someone listens: ``weighin`` (every
  new weigh-in, credited or not, with the household and rupiah), ``alert``,
  ``dead_letter`` and ``pickup`` (newly opened);
* the API itself: ``pickup`` and ``payout`` changes made through it.

Each subscriber has a bounded queue; a client too slow to keep up loses the oldest
events (counted in ``dropped``) rather than stalling the others. Every event carries
the sites, household and collector it concerns; a subscriber gets only the events its
scope admits (:meth:`cloud.api.scope.Scope.admits`, the rule every query follows).

Wire format (``text/event-stream``)::

    id: 42
    event: weighin
    data: {"id": 7, "device_id": "st-bank01", "net_g": 1250, "amount_rp": 3750, ...}
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.models import Alert, DeadLetter, Device, Household, Pickup, WeighinRecord
from contract.topics import Kind

log = logging.getLogger(__name__)

EVENT_TYPES = ("weighin", "fill", "device", "alert", "dead_letter", "pickup", "payout")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: int
    type: str
    data: dict[str, Any]
    #: whom it concerns (never sent): its sites, household and collector
    site_ids: tuple[int | None, ...] = ()
    household_id: int | None = None
    collector_id: int | None = None

    def encode(self) -> str:
        body = json.dumps(self.data, default=str, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n"


@dataclass
class _Cursor:
    weighin: int = 0
    alert: int = 0
    dead_letter: int = 0
    pickup: int = 0


@dataclass
class LiveHub:
    sessions: Callable[[], Session]
    poll_s: float = 1.0
    queue_size: int = 1000
    dropped: int = 0
    _subscribers: set[asyncio.Queue[LiveEvent]] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _loop: asyncio.AbstractEventLoop | None = None
    _cursor: _Cursor | None = None
    _task: asyncio.Task[None] | None = None
    #: device id -> site id, for events from the broker (refreshed by the poller)
    _device_sites: dict[str, int | None] = field(default_factory=dict)
    _polls: int = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._poll_forever(), name="live-hub-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    # ------------------------------------------------------------------ subscribers

    async def subscribe(self) -> asyncio.Queue[LiveEvent]:
        """A queue of live events from now on.

        The first subscriber takes the ledger baseline right here (four indexed max-id
        reads, on a worker thread), so rows written between subscribing and the poller's
        next tick are streamed too, not silently taken into the baseline.
        """
        if self._cursor is None:
            cursor = await anyio.to_thread.run_sync(self._take_baseline)
            if self._cursor is None:
                self._cursor = cursor
        q: asyncio.Queue[LiveEvent] = asyncio.Queue(self.queue_size)
        self._subscribers.add(q)
        return q

    def _take_baseline(self) -> _Cursor:
        with self.sessions() as s:
            self._device_sites = _device_sites(s)
            return self._baseline(s)

    @staticmethod
    def _baseline(s: Session) -> _Cursor:
        return _Cursor(
            weighin=_max_id(s, WeighinRecord.id),
            alert=_max_id(s, Alert.id),
            dead_letter=_max_id(s, DeadLetter.id),
            pickup=_max_id(s, Pickup.id),
        )

    def unsubscribe(self, q: asyncio.Queue[LiveEvent]) -> None:
        self._subscribers.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def polling(self) -> bool:
        """True once the ledger poller has a baseline: new rows from now on are streamed."""
        return self._cursor is not None

    def _deliver(self, type_: str, data: dict[str, Any], reach: dict[str, Any]) -> None:
        ev = LiveEvent(next(self._ids), type_, data, **reach)
        for q in list(self._subscribers):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                self.dropped += 1
            q.put_nowait(ev)

    def publish(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        site_id: int | None = None,
        household_id: int | None = None,
        collector_id: int | None = None,
        household_site_id: int | None = None,
    ) -> None:
        """Send an event to the subscribers it concerns; callable from any thread."""
        reach = _reach(site_id, household_id, collector_id, household_site_id)
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(type_, data, reach)
        else:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._deliver, type_, data, reach)

    # ------------------------------------------------------------------ MQTT relay

    def on_mqtt(self, device_id: str, kind: Kind, payload: Any) -> None:
        data = payload.model_dump(mode="json")
        site = self._device_sites.get(device_id)
        if kind is Kind.FILL:
            self.publish("fill", data, site_id=site)
        elif kind is Kind.STATUS:
            self.publish(
                "device",
                {"device_id": device_id, "online": data["state"] == "online", **data},
                site_id=site,
            )
        elif kind is Kind.HEALTH:
            self.publish("device", {"device_id": device_id, "online": True, **data}, site_id=site)

    # ------------------------------------------------------------------ ledger polling

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            if not self._subscribers:
                self._cursor = None  # re-baseline when someone subscribes again
                continue
            try:
                events = await anyio.to_thread.run_sync(self._poll_once)
            except Exception:
                log.exception("live poll of the ledger failed; retrying")
                continue
            for type_, data, reach in events:
                self._deliver(type_, data, reach)

    def _poll_once(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        with self.sessions() as s:
            self._polls += 1
            if self._cursor is None or self._polls % 10 == 0:
                self._device_sites = _device_sites(s)
            if self._cursor is None:
                self._cursor = self._baseline(s)
                return out
            c = self._cursor
            rows = s.execute(
                select(WeighinRecord, Household.member_no, Household.name, Household.site_id)
                .outerjoin(Household, Household.id == WeighinRecord.household_id)
                .where(WeighinRecord.id > c.weighin)
                .order_by(WeighinRecord.id)
                .limit(500)
            ).all()
            for w, member_no, hh_name, hh_site in rows:
                c.weighin = w.id
                reach = {"site_ids": (w.site_id, hh_site), "household_id": w.household_id}
                out.append(
                    (
                        "weighin",
                        {
                            "id": w.id,
                            "device_id": w.device_id,
                            "site_id": w.site_id,
                            "effective_at": w.effective_at.isoformat(),
                            "category_code": w.category_code,
                            "net_g": w.net_g,
                            "amount_rp": w.amount_rp,
                            "status": w.status,
                            "reason": w.reason,
                            "household_id": w.household_id,
                            "member_no": member_no,
                            "household_name": hh_name,
                        },
                        reach,
                    )
                )
            for a in s.scalars(select(Alert).where(Alert.id > c.alert).order_by(Alert.id)):
                c.alert = a.id
                out.append(
                    (
                        "alert",
                        {
                            "id": a.id,
                            "kind": a.kind,
                            "subject": a.subject,
                            "message": a.message,
                            "site_id": a.site_id,
                            "raised_at": a.raised_at.isoformat(),
                        },
                        {"site_ids": (a.site_id,)},
                    )
                )
            for d in s.scalars(
                select(DeadLetter).where(DeadLetter.id > c.dead_letter).order_by(DeadLetter.id)
            ):
                c.dead_letter = d.id
                site = self._device_sites.get(d.client_hint or "")
                out.append(
                    (
                        "dead_letter",
                        {
                            "id": d.id,
                            "reason": d.reason,
                            "topic": d.topic,
                            "detail": d.detail,
                            "received_at": d.received_at.isoformat(),
                        },
                        {"site_ids": (site,)},
                    )
                )
            for p in s.scalars(select(Pickup).where(Pickup.id > c.pickup).order_by(Pickup.id)):
                c.pickup = p.id
                out.append(("pickup", pickup_event(p), _reach(**pickup_reach(s, p))))
        return out


def _reach(
    site_id: int | None = None,
    household_id: int | None = None,
    collector_id: int | None = None,
    household_site_id: int | None = None,
) -> dict[str, Any]:
    """The ``LiveEvent`` fields saying whom an event concerns."""
    return {
        "site_ids": (site_id, household_site_id),
        "household_id": household_id,
        "collector_id": collector_id,
    }


def _device_sites(s: Session) -> dict[str, int | None]:
    return {d: site for d, site in s.execute(select(Device.device_id, Device.site_id))}


def pickup_reach(s: Session, p: Pickup) -> dict[str, Any]:
    """Whom a pickup event concerns (its site, its household's site, household, collector)."""
    hh_site = (
        s.scalar(select(Household.site_id).where(Household.id == p.household_id))
        if (p.household_id is not None)
        else None
    )
    return {
        "site_id": p.site_id,
        "household_site_id": hh_site,
        "household_id": p.household_id,
        "collector_id": p.collector_id,
    }


def _max_id(s: Session, col: Any) -> int:
    return int(s.scalar(select(func.coalesce(func.max(col), 0))) or 0)


def pickup_event(p: Pickup) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind,
        "status": p.status,
        "bin_id": p.bin_id,
        "household_id": p.household_id,
        "collector_id": p.collector_id,
        "due_at": p.due_at.isoformat() if p.due_at else None,
        "priority": p.priority,
        "collected_g": p.collected_g,
    }
