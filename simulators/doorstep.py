"""JEKNYONG in the demo: households ask for pickups at their door and a collector rides
the planned route and weighs at each door — all through the API, as the pages and the
collector's phone do.

* **Households** (member number and PIN) log in and ask, one every ``request_every_s``
  real seconds (three at once to start with), for a pickup of the plastics they have
  (an estimate, a window from now, the pin of their door).
* **The collector** reads its route (``GET /collectors/{id}/route``: reading keeps the
  plan fresh) and rides it at the demo's ``speed``: a stop whose planned start has come on
  the accelerated clock is served — a household's with one weigh-in per category from a
  :class:`~simulators.phone.Phone` (sometimes cash at the door, sometimes sent twice as a
  phone that lost the answer does), a full bin's by marking it done with its weight
  (the fleet then empties the bin). With nothing left, or the box mostly full, it rides
  back to the depot, where the operator counts its cash (``POST .../depot``).

Nothing here reaches into a service: a new plan comes from the API when a request is
added or the collector is late, exactly as for a person.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulators.phone import Phone

log = logging.getLogger("salinmas.sim.doorstep")


@dataclass(frozen=True)
class Home:
    member_no: str
    pin: str
    lat: float
    lon: float
    address: str


@dataclass
class DoorstepStats:
    requests: int = 0
    completions: int = 0
    replays: int = 0
    bins: int = 0
    credited_rp: int = 0
    depot_visits: int = 0
    errors: int = 0


@dataclass
class _Following:
    plan_id: int | None = None
    real_start: float = 0.0
    depart: datetime | None = None


@dataclass
class DoorstepSim:
    """The households and the collector (see the module doc). ``start()``/``stop()``."""

    api_url: str
    homes: list[Home]
    collector: tuple[str, str]
    operator: tuple[str, str]
    speed: float = 288.0
    request_every_s: float = 15.0
    categories: tuple[str, ...] = ("plastic-pet", "plastic-mixed")
    float_rp: int = 200_000
    seed: int | None = None
    stats: DoorstepStats = field(default_factory=DoorstepStats)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _tokens: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._phone = Phone()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> DoorstepSim:
        for name, target in (("households", self._households), ("collector", self._collector)):
            t = threading.Thread(target=target, name=f"doorstep-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)
        self._threads.clear()

    # ------------------------------------------------------------------ the API

    def _client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    def _login(self, key: str, path: str, body: dict[str, str]) -> tuple[str, int]:
        if key not in self._tokens:
            with self._client() as c:
                r = c.post(path, json=body)
                r.raise_for_status()
                self._tokens[key] = (r.json()["access_token"], int(r.json()["subject_id"]))
        return self._tokens[key]

    def _staff(self, who: tuple[str, str]) -> tuple[str, int]:
        return self._login(
            f"user:{who[0]}", "/api/v1/auth/login", {"username": who[0], "password": who[1]}
        )

    def _call(self, key: str, login: Any, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call with the token of ``key`` (logged in again once on a 401)."""
        for _ in range(2):
            token, _id = login()
            with self._client(token) as c:
                r = c.request(method, path, **kw)
            if r.status_code != 401:
                return r
            self._tokens.pop(key, None)
        return r

    # ------------------------------------------------------------------ households

    def _households(self) -> None:
        first = True
        while not self._stop.is_set():
            for _ in range(3 if first else 1):
                try:
                    self._request_one()
                except httpx.HTTPError as exc:
                    self.stats.errors += 1
                    log.debug("a household's request failed: %s", exc)
            first = False
            self._stop.wait(self.request_every_s)

    def _request_one(self) -> None:
        home = self._rng.choice(self.homes)
        key = f"household:{home.member_no}"

        def login() -> tuple[str, int]:
            return self._login(
                key, "/api/v1/auth/household-login", {"member_no": home.member_no, "pin": home.pin}
            )

        _token, hh = login()
        now = datetime.now(UTC)
        cats = self._rng.sample(self.categories, self._rng.randint(1, len(self.categories)))
        body = {
            "categories": cats,
            "estimated_kg": round(self._rng.uniform(3, 8), 1),
            "window_start": now.isoformat(),
            "window_end": (now + timedelta(hours=3)).isoformat(),
            "lat": home.lat,
            "lon": home.lon,
            "address": home.address,
            "note": self._rng.choice([None, "di teras", "karung biru", "rumah cat hijau"]),
        }
        r = self._call(key, login, "POST", f"/api/v1/households/{hh}/pickups", json=body)
        if r.status_code == 201:
            self.stats.requests += 1
        elif r.status_code != 409:  # 409: this household has a request open already
            self.stats.errors += 1
            log.info("request refused: %s %s", r.status_code, r.text[:200])

    # ------------------------------------------------------------------ the collector

    def _collector(self) -> None:
        following = _Following()
        issued = False
        while not self._stop.is_set():
            try:
                if not issued:
                    issued = self._issue_float()
                self._ride(following)
            except httpx.HTTPError as exc:
                self.stats.errors += 1
                log.debug("the collector's round failed: %s", exc)
            self._stop.wait(1.5)

    def _issue_float(self) -> bool:
        _t, cid = self._staff(self.collector)
        key = {"Idempotency-Key": f"demo-float-{cid}-{time.time_ns()}"}
        r = self._call(
            f"user:{self.operator[0]}",
            lambda: self._staff(self.operator),
            "POST",
            f"/api/v1/collectors/{cid}/float",
            json={"amount_rp": self.float_rp},
            headers=key,
        )
        return r.status_code == 200

    def _ride(self, following: _Following) -> None:
        key = f"user:{self.collector[0]}"
        _t, cid = self._staff(self.collector)
        r = self._call(
            key, lambda: self._staff(self.collector), "GET", f"/api/v1/collectors/{cid}/route"
        )
        r.raise_for_status()
        day = r.json()
        if day.get("plan_id") != following.plan_id and day.get("depart"):
            following.plan_id, following.real_start = day["plan_id"], time.monotonic()
            following.depart = datetime.fromisoformat(day["depart"])
        stops = day.get("stops", [])
        if not stops:
            if day.get("load_g"):
                self._depot(cid)
            return
        if day.get("capacity_g") and day.get("load_g", 0) >= 0.7 * day["capacity_g"]:
            self._depot(cid)
            return
        assert following.depart is not None
        sim_now = following.depart + timedelta(
            seconds=(time.monotonic() - following.real_start) * self.speed
        )
        nxt = stops[0]
        if datetime.fromisoformat(nxt["eta"]) <= sim_now:
            self._serve(key, cid, nxt)

    def _serve(self, key: str, cid: int, stop: dict[str, Any]) -> None:
        login = lambda: self._staff(self.collector)  # noqa: E731
        pid = stop["pickup_id"]
        if stop.get("household_id") is None:  # a full bin: emptied into the box
            grams = self._rng.randint(8_000, 20_000)
            r = self._call(
                key, login, "POST", f"/api/v1/pickups/{pid}/complete", json={"collected_g": grams}
            )
            self.stats.bins += r.status_code == 200
            return
        cats = stop.get("categories") or [self.categories[0]]
        each = max(500, (stop.get("estimated_g") or 4_000) // len(cats))
        lines = [(c, self._rng.randint(each // 2, each * 3 // 2) // 10 * 10) for c in cats]
        payment = "cash" if self._rng.random() < 0.15 else "savings"
        body = self._phone.completion(lines, payment=payment)
        r = self._call(key, login, "POST", f"/api/v1/pickups/{pid}/doorstep", json=body)
        if r.status_code == 201:
            self.stats.completions += 1
            self.stats.credited_rp += int(r.json()["total_rp"])
            if self._rng.random() < 0.1:  # the answer was lost on the way: sent again
                again = self._call(key, login, "POST", f"/api/v1/pickups/{pid}/doorstep", json=body)
                self.stats.replays += again.status_code == 200
        else:
            self.stats.errors += 1
            log.info("completion refused: %s %s", r.status_code, r.text[:200])

    def _depot(self, cid: int) -> None:
        """Back at the waste bank: the box is unloaded, the operator counts the cash."""
        op = f"user:{self.operator[0]}"
        staff = lambda: self._staff(self.operator)  # noqa: E731
        fl = self._call(op, staff, "GET", f"/api/v1/collectors/{cid}/float").json()["float_rp"]
        key = {"Idempotency-Key": f"demo-depot-{cid}-{time.time_ns()}"}
        r = self._call(
            op,
            staff,
            "POST",
            f"/api/v1/collectors/{cid}/depot",
            json={"counted_cash_rp": max(0, fl)},
            headers=key,
        )
        if r.status_code == 200:
            self.stats.depot_visits += 1
            self._issue_float()
