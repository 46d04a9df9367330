"""The running stack the browser tests drive: :class:`stack.demo.DemoStack`.

A real broker, ingest and API (child processes) with simulated scale stations and bins
running as edge agents; :class:`BrowserStack` adds what a test does by hand, the way a
person would at a station (tap a card, press a category, put a bag on the platter).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from stack.demo import DemoStack, card_of, free_port, member_no
from tests.support.waiting import wait_until


@dataclass
class BrowserStack:
    demo: DemoStack

    @property
    def base_url(self) -> str:
        return self.demo.api_url

    @property
    def operator(self) -> tuple[str, str]:
        return ("admin", self.demo.secrets.admin_password)

    @property
    def collector(self) -> tuple[str, str]:
        return ("kolektor1", self.demo.secrets.collector_password)

    #: how the pages show the collector (its display name)
    collector_name: str = "Pak Budi"

    @property
    def household(self) -> tuple[str, str, str]:
        """Member number, PIN and member card of the first household."""
        return (member_no(0), self.demo.secrets.household_pin, card_of(0))

    @property
    def stations(self) -> list[str]:
        return self.demo.station_ids

    @property
    def door_station_id(self) -> str:
        """The station the collector carries to the door (the demo's last one)."""
        return self.demo.station_ids[-1]

    @property
    def _fleet(self) -> Any:
        return self.demo.fleet

    @contextlib.contextmanager
    def api(self) -> Iterator[httpx.Client]:
        """An HTTP client logged in as the operator (to read what the pages should show)."""
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            user, password = self.operator
            tok = client.post("/api/v1/auth/login", json={"username": user, "password": password})
            tok.raise_for_status()
            client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
            yield client

    def staff(
        self, username: str, password: str, role: str, *, site: str | None = None
    ) -> tuple[str, str]:
        """A staff account of ``role`` (of the site with code ``site``, for the roles that
        belong to one), made through the API; asking again for the same one is fine."""
        with self.api() as api:
            body: dict[str, Any] = {"username": username, "password": password, "role": role}
            if site is not None:
                sites = api.get("/api/v1/sites").json()
                body["site_id"] = next(s["id"] for s in sites if s["code"] == site)
            r = api.post("/api/v1/users", json=body)
            assert r.status_code in (201, 409, 422), r.text
            assert r.status_code != 422 or "taken" in r.text, r.text
        return username, password

    def weigh(
        self, *, card_id: str, category: str, net_g: int, station: str | None = None
    ) -> dict[str, Any]:
        """A person at ``station`` taps the card, presses the category and weighs a bag.

        Returns the weigh-in as the API records it (the bag stays on the platter until
        the station's weigh-in has reached the cloud).
        """
        station = station or self.demo.station_ids[0]
        scale, cards = self._fleet.station(station)
        with self.api() as api:

            def latest() -> int:
                rows = api.get("/api/v1/weighins", params={"device_id": station, "limit": 1})
                rows.raise_for_status()
                return int(rows.json()[0]["id"]) if rows.json() else 0

            before = latest()
            cards.present(card_id)
            time.sleep(0.5)  # a person's pace: the card is read before the button is pressed
            assert self._fleet.control(station, f"category {category}")
            time.sleep(0.4)
            scale.place(net_g)
            wait_until(lambda: latest() > before, 30, "the weigh-in to reach the API")
            scale.remove()
            wait_until(lambda: scale.stable, 10, "the simulated scale to settle")
            rows = api.get("/api/v1/weighins", params={"device_id": station, "limit": 1})
            record: dict[str, Any] = rows.json()[0]
        return record

    def publish_as_device(self, device_id: str, kind: str, payload: bytes) -> None:
        """Publish raw bytes on a device's own topic with its broker account (QoS 1)."""
        # the broker binds a device account to its own client id (the running agent
        # reconnects after this short visit)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
        client.username_pw_set(device_id, self.demo.secrets.devices[device_id])
        client.connect("127.0.0.1", self.demo.mqtt_port)
        client.loop_start()
        try:
            info = client.publish(f"salinmas/v1/dev/{device_id}/{kind}", payload, qos=1)
            info.wait_for_publish(timeout=10)
            assert info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()

    def stop_api(self) -> None:
        """End the API process (the dashboard's stream breaks), as a crash would."""
        self.demo.stop_process("api", timeout_s=1)

    def start_api(self) -> None:
        self.demo.start_process("api")


@contextlib.contextmanager
def browser_stack(
    data_dir: Path, *, visit_every_s: float, speed: float = 1000.0
) -> Iterator[BrowserStack]:
    demo = DemoStack(
        data_dir=data_dir,
        api_port=free_port(),
        speed=speed,
        visit_every_s=visit_every_s,
        households=4,
        quiet=True,
        doorstep=False,  # the tests ask for pickups themselves
    )
    with demo:
        yield BrowserStack(demo)
