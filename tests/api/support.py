"""A real API server for tests (uvicorn in a thread) and a seeded programme to test on."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import crediting, doorstep, households, pickups, pricing
from cloud.api.app import create_app
from cloud.api.settings import ApiSettings
from cloud.auth import create_user, set_household_pin
from cloud.db import make_engine, session_factory
from cloud.deadletters import add_dead_letter
from cloud.devices import register_device
from cloud.models import WeighinRecord
from cloud.models.auth import User
from cloud.models.notifications import Notification, NotificationDelivery
from cloud.payouts import request_payout
from cloud.pickups import raise_alert
from tests.cloud.factories import weighin
from tests.support.services import free_port

PASSWORD = "correct horse battery"
PRICES_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class ApiServer:
    app: FastAPI
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 30, **kw})


@contextmanager
def serve(settings: ApiSettings, app: FastAPI | None = None) -> Iterator[ApiServer]:
    """Run the app (or ``create_app(settings)``) on a free port until the block ends."""
    app = app or create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # open SSE streams end with the server
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield ApiServer(app, f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(20)


def settings_for(ledger_url: str, tmp: Any, **kw: Any) -> ApiSettings:
    base: dict[str, Any] = {
        "ledger_url": ledger_url,
        "jwt_secret": "test-secret-0123456789abcdef0123456789",
        "mqtt": {"enabled": False},
        "telemetry": {"backend": "sqlite", "sqlite_path": str(tmp / "telemetry.db")},
        "broker": {"backend": "file", "path": str(tmp / "broker-accounts.json")},
        "stream_poll_s": 0.1,
        "stream_keepalive_s": 0.5,
        "stream_recheck_s": 0.2,
    }
    base.update(kw)
    return ApiSettings(**base)


@dataclass
class World:
    """The seeded programme: two of everything, so one can try to reach the other's.

    Site 1 (``bank01``) has an operator, a cashier, two collectors (A and B), households
    A and B, a station, a bin, weigh-ins, pickups, a payout, an alert and a dead letter.
    Site 2 (``bank02``) has the same with a ``-2`` suffix (households C and D). ``admin`` and
    ``auditor`` belong to no site.
    """

    ids: dict[str, Any] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)


#: (username, role, site tag or None)
USERS = (
    ("admin", "admin", None),
    ("auditor", "auditor", None),
    ("operator", "operator", "1"),
    ("cashier", "cashier", "1"),
    ("collector-a", "collector", "1"),
    ("collector-b", "collector", "1"),
    ("operator-2", "operator", "2"),
    ("cashier-2", "cashier", "2"),
    ("collector-2", "collector", "2"),
)


def _users(session: Session, w: World, sites: dict[str, int]) -> None:
    """The staff accounts; every one shares :data:`PASSWORD` (hashed once: argon2 is slow)."""
    first: User | None = None
    for name, role, tag in USERS:
        site_id = sites[tag] if tag else None
        if first is None:
            first = create_user(
                session, username=name, password=PASSWORD, role=role, site_id=site_id
            )
            u = first
        else:
            u = User(
                username=name,
                display_name=name,
                role=role,
                site_id=site_id,
                password_hash=first.password_hash,
                active=True,
            )
            session.add(u)
            session.flush()
        w.ids[name] = u.id


def seed(session: Session) -> World:
    w = World()
    pricing.ensure_category(session, code="plastic-pet", name_id="Plastik PET", name_en="PET")
    pricing.set_price(session, category="plastic-pet", rp_per_kg=3_000, effective_from=PRICES_FROM)
    site = households.ensure_site(session, code="bank01", name="Bank 01")
    site2 = households.ensure_site(session, code="bank02", name="Bank 02")
    _users(session, w, {"1": site.id, "2": site2.id})
    for tag, card, pin, code in (
        ("a", "CARD-A", "1234", "bank01"),
        ("b", "CARD-B", "5678", "bank01"),
        ("c", "CARD-C", "2468", "bank02"),
        ("d", "CARD-D", "1357", "bank02"),
    ):
        hh = households.register_household(
            session, member_no=f"M-{tag.upper()}", name=f"HH {tag}", site=code
        )
        households.link_card(session, card_id=card, household_id=hh.id, by="seed")
        set_household_pin(session, household_id=hh.id, pin=pin, by="seed")
        w.ids[f"household-{tag}"] = hh.id
        w.pins[f"M-{tag.upper()}"] = pin
    for n, code in (("", "bank01"), ("2", "bank02")):
        register_device(session, device_id=f"st-bank0{n or 1}", kind="station", site=code)
        register_device(session, device_id=f"bn-bin0{n or 1}", kind="bin", site=code)
        pickups.register_bin(
            session,
            bin_id=f"bn-bin0{n or 1}",
            device_id=f"bn-bin0{n or 1}",
            site=code,
            category="plastic-pet",
        )
    now = datetime.now(UTC)
    for seq in range(1, 4):  # household A's credited weigh-ins: 3 x Rp 3,750
        crediting.credit_weighin(session, event=weighin(seq=seq, card_id="CARD-A"), received_at=now)
    crediting.credit_weighin(session, event=weighin(seq=10, card_id="UNKNOWN"), received_at=now)
    for seq in range(1, 3):  # household C's, at its own station
        crediting.credit_weighin(
            session,
            event=weighin(device_id="st-bank02", seq=seq, card_id="CARD-C"),
            received_at=now,
        )
    crediting.credit_weighin(
        session, event=weighin(device_id="st-bank02", seq=10, card_id="UNKNOWN-2"), received_at=now
    )
    session.flush()
    W = WeighinRecord
    first = {
        (dev, status): session.scalars(
            select(W.id).where(W.device_id == dev, W.status == status).order_by(W.id)
        ).first()
        for dev in ("st-bank01", "st-bank02")
        for status in ("credited", "unassigned")
    }
    w.ids["weighin-unassigned"] = first["st-bank01", "unassigned"]
    w.ids["weighin-a"] = first["st-bank01", "credited"]
    w.ids["weighin-unassigned-2"] = first["st-bank02", "unassigned"]
    w.ids["weighin-c"] = first["st-bank02", "credited"]
    for n, hh, col in (("", "household-a", "collector-a"), ("2", "household-c", "collector-2")):
        bin_pickup = pickups.open_pickup(
            session, kind="bin_full", bin_id=f"bn-bin0{n or 1}", priority=1
        )
        pickups.assign_pickup(session, pickup_id=bin_pickup.id, collector_id=w.ids[col])
        hh_pickup = doorstep.request_pickup(
            session,
            household_id=w.ids[hh],
            categories=["plastic-pet"],
            address="Jl. Mawar 3",
            settings=doorstep.DoorstepSettings(),
        )
        pickups.assign_pickup(session, pickup_id=hh_pickup.id, collector_id=w.ids[col])
        suffix = "-2" if n else "-a"
        w.ids[f"pickup{suffix}"] = bin_pickup.id
        w.ids[f"household-pickup{suffix}"] = hh_pickup.id
        alert = raise_alert(
            session,
            kind="lid_open",
            subject=f"bn-bin0{n or 1}",
            message="lid open",
            site_id=site2.id if n else site.id,
        )
        w.ids[f"alert{suffix}"] = alert.id if alert is not None else None
        dl = add_dead_letter(
            session,
            topic=f"salinmas/v1/dev/st-bank0{n or 1}/weighin",
            payload=b"{",
            reason="malformed",
            detail="seed",
            client_hint=f"st-bank0{n or 1}",
        )
        w.ids[f"dead-letter{suffix}"] = dl.id
    w.ids["payout-a"] = request_payout(
        session, household_id=w.ids["household-a"], amount_rp=1_000, by="seed"
    ).id
    w.ids["payout-c"] = request_payout(
        session, household_id=w.ids["household-c"], amount_rp=1_000, by="seed"
    ).id
    for tag, hh_key in (("a", "household-a"), ("2", "household-c")):  # in-app messages
        w.ids[f"delivery-{tag}"] = session.scalars(
            select(NotificationDelivery.id)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(Notification.household_id == w.ids[hh_key])
            .order_by(NotificationDelivery.id)
        ).first()
    w.ids["site"] = site.id
    w.ids["site-2"] = site2.id
    session.commit()
    return w


def login(client: httpx.Client, username: str) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def household_login(client: httpx.Client, member_no: str, pin: str) -> str:
    r = client.post("/api/v1/auth/household-login", json={"member_no": member_no, "pin": pin})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def stream_ticket(client: httpx.Client, token: str) -> str:
    r = client.post("/api/v1/auth/stream-ticket", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    ticket: str = r.json()["ticket"]
    return ticket


@contextmanager
def listen(api: ApiServer, token: str, **params: Any) -> Iterator[queue.Queue[tuple[str, Any]]]:
    """Read the stream in a thread (opened with a stream ticket, as the dashboard does);
    yields a queue of (event type, data)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    client = httpx.Client(base_url=api.url, timeout=httpx.Timeout(30, read=60))
    ticket = stream_ticket(client, token)

    def run() -> None:
        try:
            with client.stream("GET", "/api/v1/stream", params={"ticket": ticket, **params}) as r:
                events.put(("status", r.status_code))
                kind = None
                for line in r.iter_lines():  # keep-alives (0.5 s in tests) wake it up
                    if stop.is_set():
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind:
                        events.put((kind, json.loads(line[6:])))
        except (httpx.HTTPError, RuntimeError):
            if not stop.is_set():
                raise

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert events.get(timeout=10) == ("status", 200)
    hub = api.app.state.api.hub
    deadline = time.monotonic() + 10
    while not hub.polling and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.polling
    try:
        yield events
    finally:
        stop.set()
        t.join(20)
        client.close()


def next_of(events: queue.Queue[tuple[str, Any]], kind: str, timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        k, data = events.get(timeout=left)
        if k == kind:
            return data
    raise AssertionError(f"no {kind} event within {timeout_s} s")


def until_event(
    events: queue.Queue[tuple[str, Any]], done: Any, timeout_s: float = 15
) -> list[Any]:
    """Events (type, data) up to and including the first for which ``done`` is true."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        item = events.get(timeout=left)
        got.append(item)
        if done(item):
            return got
    raise AssertionError(f"no closing event within {timeout_s} s; got {got}")


def credit(api: ApiServer, *events: Any) -> None:
    """Credit weigh-ins as ingest does (same database, another process in production)."""
    engine = make_engine(api.app.state.api.settings.ledger_url)
    try:
        with session_factory(engine)() as s:
            for ev in events:
                crediting.credit_weighin(s, event=ev, received_at=datetime.now(UTC))
            s.commit()
    finally:
        engine.dispose()
