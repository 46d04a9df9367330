"""A real API server for tests (uvicorn in a thread) and a seeded programme to test on."""

from __future__ import annotations

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

from cloud import corrections, crediting, doorstep, households, pickups, pricing
from cloud.api.app import create_app
from cloud.api.settings import ApiSettings
from cloud.auth import create_user, set_household_pin
from cloud.devices import register_device
from cloud.models import WeighinRecord
from cloud.payouts import request_payout
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
def serve(settings: ApiSettings) -> Iterator[ApiServer]:
    """Run the app on a free port until the block ends (lifespan included)."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        timeout_graceful_shutdown=2,  # open SSE streams end with the server
    )  # fmt: skip
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
    }  # fmt: skip
    base.update(kw)
    return ApiSettings(**base)


@dataclass
class World:
    """The seeded programme: two of everything, so one can try to reach the other's."""

    ids: dict[str, Any] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)


def seed(session: Session) -> World:
    w = World()
    pricing.ensure_category(session, code="plastic-pet", name_id="Plastik PET", name_en="PET")
    pricing.set_price(session, category="plastic-pet", rp_per_kg=3_000, effective_from=PRICES_FROM)
    site = households.ensure_site(session, code="bank01", name="Bank 01")
    for name, role in (("admin", "admin"), ("operator", "operator"),
                       ("collector-a", "collector"), ("collector-b", "collector")):  # fmt: skip
        u = create_user(session, username=name, password=PASSWORD, role=role)
        w.ids[name] = u.id
    for tag, card in (("a", "CARD-A"), ("b", "CARD-B")):
        hh = households.register_household(session, member_no=f"M-{tag.upper()}", name=f"HH {tag}",
                                       site="bank01")  # fmt: skip
        households.link_card(session, card_id=card, household_id=hh.id, by="seed")
        set_household_pin(session, household_id=hh.id, pin=f"{'1234' if tag == 'a' else '5678'}",
                          by="seed")  # fmt: skip
        w.ids[f"household-{tag}"] = hh.id
        w.pins[f"M-{tag.upper()}"] = "1234" if tag == "a" else "5678"
    register_device(session, device_id="st-bank01", kind="station", site="bank01")
    register_device(session, device_id="bn-bin01", kind="bin", site="bank01")
    pickups.register_bin(session, bin_id="bn-bin01", device_id="bn-bin01", site="bank01",
                         category="plastic-pet")  # fmt: skip
    now = datetime.now(UTC)
    for seq in range(1, 4):  # household A's credited weigh-ins: 3 x Rp 3,750
        crediting.credit_weighin(session, event=weighin(seq=seq, card_id="CARD-A"), received_at=now)
    crediting.credit_weighin(session, event=weighin(seq=10, card_id="UNKNOWN"), received_at=now)
    session.flush()
    rec = corrections.unassigned_weighins(session)[0]
    w.ids["weighin-unassigned"] = rec.id
    w.ids["weighin-a"] = session.scalars(
        select(WeighinRecord.id)
        .where(WeighinRecord.status == "credited")
        .order_by(WeighinRecord.id)
    ).first()
    bin_pickup = pickups.open_pickup(session, kind="bin_full", bin_id="bn-bin01", priority=1)
    pickups.assign_pickup(session, pickup_id=bin_pickup.id, collector_id=w.ids["collector-a"])
    w.ids["pickup-a"] = bin_pickup.id
    hh_pickup = doorstep.request_pickup(
        session, household_id=w.ids["household-a"], categories=["plastic-pet"],
        address="Jl. Mawar 3", settings=doorstep.DoorstepSettings(),
    )  # fmt: skip
    pickups.assign_pickup(session, pickup_id=hh_pickup.id, collector_id=w.ids["collector-a"])
    w.ids["household-pickup-a"] = hh_pickup.id
    p = request_payout(session, household_id=w.ids["household-a"], amount_rp=1_000, by="seed")
    w.ids["payout-a"] = p.id
    w.ids["site"] = site.id
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
