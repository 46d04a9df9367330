"""A fleet: scale stations and bins as real edge-agent processes, driven like hardware.

For every **station** the fleet opens two pseudo-terminals — a weighing indicator
(:class:`~simulators.scales.ScaleSimulator`) and an RDM6300 card reader
(:class:`~simulators.cards.CardReaderSimulator`) — writes the agent's config file and
starts ``python -m edge --config station.toml`` with its own outbox. Households arrive
(:class:`~simulators.households.Population`): a card is tapped, a category button is
pressed (over the agent's simulator control socket, see :mod:`simulators.agent_hook`),
a bag is put on the platter until the agent has had a stable weight, then taken off.

For every **bin node** the agent's config lists one bin (``<device>-a``) on mock pins;
its ``simulator_hook`` fills it with the daily pattern on the fleet's accelerated clock.
When the API reports the bin's pickup done, the fleet tells that agent to empty it.

Agents run in their own sessions and die with the fleet's process (``PR_SET_PDEATHSIG``);
:meth:`Fleet.stop` terminates them (SIGTERM, then SIGKILL after ``stop_timeout_s``).

Example::

    fleet = Fleet(workdir=Path("var/fleet"), mqtt_host="127.0.0.1", mqtt_port=1883,
                  stations={"st-demo-01": "pw1"}, bins={"bin-demo-01": "pw2"},
                  cards=["0A00010000"], speed=288, visit_every_s=8)
    fleet.start()
    ...
    fleet.stop()
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from simulators._io import on_sigterm
from simulators.agent_hook import send_control
from simulators.cards import CardReaderSimulator
from simulators.clock import SimClock
from simulators.households import Population, Visit
from simulators.printer import PrinterSimulator
from simulators.pty import PtyDevice
from simulators.scales import ScaleSimulator

log = logging.getLogger("salinmas.sim.fleet")

#: indicator protocols the stations take in turn (all read by the bridge)
STATION_PROTOCOLS = ("and_indicator", "cas22", "toledo", "mtsics", "sartorius", "and_balance")
#: categories the demo's waste bank buys
DEMO_CATEGORIES = ("organic", "plastic-pet", "plastic-mixed", "paper")
#: BCM pins of the category buttons, in category order
BUTTON_PINS = (5, 6, 13, 19, 26, 21)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM this child when the fleet's process dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class _Agent:
    device_id: str
    dir: Path
    config: Path
    control: str
    proc: subprocess.Popen[bytes] | None = None
    log_file: Any = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class _Station:
    agent: _Agent
    scale_dev: PtyDevice
    card_dev: PtyDevice
    scale: ScaleSimulator
    cards: CardReaderSimulator
    visits: queue.Queue[Visit | None] = field(default_factory=lambda: queue.Queue(maxsize=4))
    printer_dev: PtyDevice | None = None
    printer: PrinterSimulator | None = None


class Fleet:
    """N scale stations and M bin nodes as edge-agent processes (see the module doc).

    ``stations`` and ``bins`` map device ids to their broker passwords (the accounts
    must exist). ``cards`` are the member cards the households carry (registered in
    the cloud for their weigh-ins to be credited). ``speed`` is the time factor (288:
    a day in 5 minutes). With ``visit_every_s`` a household arrives at each station
    about that often (real seconds); without it, visits follow the population's daily
    schedule on the accelerated clock. ``api_url`` with ``api_login`` (or
    ``api_token``) lets the fleet see completed pickups and empty those bins. With
    ``tickets`` every station gets a simulated ticket printer (``simulators.printer``)
    that appends the tickets it prints to that file.
    """

    def __init__(
        self,
        *,
        workdir: Path,
        mqtt_host: str = "127.0.0.1",
        mqtt_port: int = 1883,
        stations: dict[str, str],
        bins: dict[str, str] | None = None,
        cards: Sequence[str] = (),
        speed: float = 288.0,
        visit_every_s: float | None = 8.0,
        api_url: str | None = None,
        api_login: tuple[str, str] | None = None,
        api_token: str | None = None,
        categories: Sequence[str] = DEMO_CATEGORIES,
        protocols: Sequence[str] = STATION_PROTOCOLS,
        division_g: int = 20,
        bin_fill_pct: Sequence[float] = (62.0, 70.0, 55.0, 75.0, 66.0),
        bin_daily_growth_pct: float = 60.0,
        start_local_hour: float = 6.5,
        seed: int = 0,
        python: str = sys.executable,
        stop_timeout_s: float = 10.0,
        tickets: Path | None = None,
        waste_bank: str = "Bank Sampah",
        category_names: dict[str, str] | None = None,
    ) -> None:
        if not stations and not bins:
            raise ValueError("a fleet needs at least one station or bin")
        if api_url and not api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be http(s), got {api_url!r}")
        if len(categories) > len(BUTTON_PINS):
            raise ValueError(f"at most {len(BUTTON_PINS)} categories (one button each)")
        self.workdir = Path(workdir)
        self.mqtt_host, self.mqtt_port = mqtt_host, mqtt_port
        self.station_accounts = dict(stations)
        self.bin_accounts = dict(bins or {})
        self.speed = speed
        self.visit_every_s = visit_every_s
        self.api_url = api_url.rstrip("/") if api_url else None
        self.api_login = api_login
        self._api_token = api_token
        self.categories = tuple(categories)
        self.protocols = tuple(protocols)
        self.division_g = division_g
        self.bin_fill_pct = tuple(bin_fill_pct)
        self.bin_daily_growth_pct = bin_daily_growth_pct
        self.seed = seed
        self.python = python
        self.stop_timeout_s = stop_timeout_s
        self.tickets = tickets
        self.waste_bank = waste_bank
        self.category_names = dict(category_names or {})
        self.clock = SimClock(speed, start=self._start_at(start_local_hour))
        people = max(1, len(cards)) if cards else 20
        self.population = Population(
            people,
            stations=list(stations) or ["st-none"],
            seed=seed,
            categories=self.categories,
            card_ids=list(cards) if cards else None,
        )
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stations: dict[str, _Station] = {}
        self._bin_agents: dict[str, _Agent] = {}
        self._sockdir = ""
        #: counters: visits served / skipped (station busy), bags weighed, bins emptied,
        #: successful reads of the API's pickup board
        self.stats = {"visits": 0, "skipped": 0, "bags": 0, "emptied": 0, "pickup_polls": 0}

    def _start_at(self, local_hour: float) -> datetime:
        tz = SimClock().tz
        today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        return today + timedelta(hours=local_hour)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> Fleet:
        """Open the ptys, write the configs, start the agents and the households."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._sockdir = tempfile.mkdtemp(prefix="sal-fleet-")  # short: AF_UNIX path limit
        try:
            for i, (device_id, password) in enumerate(self.station_accounts.items()):
                self._stations[device_id] = self._start_station(i, device_id, password)
            for i, (device_id, password) in enumerate(self.bin_accounts.items()):
                self._bin_agents[device_id] = self._start_bin_node(i, device_id, password)
            for st in self._stations.values():
                self._thread(f"station-{st.agent.device_id}", self._serve, st)
            if self._stations:
                self._thread("households", self._arrivals)
            if self.api_url and self._bin_agents:
                if self.api_login is None and self._api_token is None:
                    log.warning(
                        "no api_login/api_token: the pickup board needs a staff login, so "
                        "bins will not be emptied when their pickup is done"
                    )
                self._thread("pickups", self._watch_pickups)
        except BaseException:
            self.stop()
            raise
        log.info(
            "fleet started: %d stations, %d bins, a day in %.1f min",
            len(self._stations),
            len(self._bin_agents),
            24 * 60 / self.speed,
        )
        return self

    def stop(self) -> None:
        """Stop the households, terminate the agents, close every simulated device."""
        self._stop.set()
        for st in self._stations.values():
            with contextlib.suppress(queue.Full):
                st.visits.put_nowait(None)
        for t in self._threads:
            t.join(15)
        agents = [st.agent for st in self._stations.values()] + list(self._bin_agents.values())
        for a in agents:
            if a.alive:
                assert a.proc is not None
                a.proc.terminate()
        deadline = time.monotonic() + self.stop_timeout_s
        for a in agents:
            if a.proc is None:
                continue
            try:
                a.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                a.proc.kill()
                a.proc.wait(5)
            if a.log_file is not None:
                a.log_file.close()
        for st in self._stations.values():
            st.scale.stop()
            st.cards.close()
            st.scale_dev.close()
            st.card_dev.close()
            if st.printer is not None and st.printer_dev is not None:
                st.printer.stop()
                st.printer_dev.close()
        self._stations.clear()
        self._bin_agents.clear()
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        """Process id of each agent started (for supervision and tests)."""
        agents = [st.agent for st in self._stations.values()] + list(self._bin_agents.values())
        return {a.device_id: a.proc.pid for a in agents if a.proc is not None}

    def status(self) -> dict[str, Any]:
        """Counters and which agents are alive (for a banner or a progress line)."""
        agents = {st.agent.device_id: st.agent.alive for st in self._stations.values()}
        agents |= {d: a.alive for d, a in self._bin_agents.items()}
        return {**self.stats, "sim_time": self.clock.now().isoformat(), "agents": agents}

    # ------------------------------------------------------------------ agents

    def _agent(self, device_id: str, password: str, body: str, env: dict[str, str]) -> _Agent:
        d = self.workdir / device_id
        d.mkdir(parents=True, exist_ok=True)
        (d / "clock-synced").touch()
        (d / "boot_id").write_text(str(uuid.uuid4()))  # a new boot per fleet start
        config = d / "agent.toml"
        config.write_text(
            "[edge]\n"
            f'device_id = "{device_id}"\n'
            'pin_factory = "mock"\n'
            'simulator_hook = "simulators.agent_hook:attach"\n'
            "health_interval_s = 60.0\n"
            "confirm_timeout_s = 10.0\n"
            f'clock_sync_flag = "{d / "clock-synced"}"\n'
            f'boot_id_file = "{d / "boot_id"}"\n'
            "\n[edge.mqtt]\n"
            f'host = "{self.mqtt_host}"\nport = {self.mqtt_port}\n'
            f"password = {json.dumps(password)}\n"
            "backoff_min_s = 0.2\nbackoff_max_s = 5.0\n"
            "\n[edge.outbox]\n"
            f'path = "{d / "outbox.db"}"\n' + body
        )
        config.chmod(0o600)  # it holds the device's password
        agent = _Agent(device_id, d, config, os.path.join(self._sockdir, f"{device_id}.sock"))
        child_env = {
            **os.environ,
            "SALINMAS_SIM_CONFIG": str(config),
            "SALINMAS_SIM_CONTROL": agent.control,
            "SALINMAS_SIM_SPEED": str(self.speed),
            "SALINMAS_SIM_START": self.clock.now().isoformat(),
            "SALINMAS_SIM_SEED": str(self.seed),
            **env,
        }
        agent.log_file = (d / "agent.log").open("ab")
        agent.proc = subprocess.Popen(
            [self.python, "-m", "edge", "--config", str(config)],
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=agent.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the fleet, which stops them in order
            preexec_fn=_die_with_parent,  # only prctl(2) runs between fork and exec
        )
        return agent

    def _start_station(self, i: int, device_id: str, password: str) -> _Station:
        protocol = self.protocols[i % len(self.protocols)]
        devdir = self.workdir / device_id
        devdir.mkdir(parents=True, exist_ok=True)
        scale_dev = PtyDevice(devdir, name="usb-Sim_Indicator-if00-port0")
        card_dev = PtyDevice(devdir, name="usb-Sim_RFID-if00-port0")
        scale = ScaleSimulator(
            protocol, scale_dev, division_g=self.division_g, rate_hz=5, seed=self.seed + i
        ).start()
        cards = CardReaderSimulator(card_dev, seed=self.seed + i)
        buttons = ", ".join(f'"{c}" = {BUTTON_PINS[k]}' for k, c in enumerate(self.categories))
        poll = "poll_interval_s = 0.2\n" if not scale.streaming else ""
        body = (
            "\n[edge.station]\n"
            f'scale_port = "{scale_dev.path}"\n'
            f'protocol = "{protocol}"\n{poll}'
            f"division_g = {self.division_g}\n"
            f'card_port = "{card_dev.path}"\n'
            'card_kind = "rdm6300"\n'
            "card_session_s = 60.0\n"
            f'default_category = "{self.categories[0]}"\n'
            f"category_buttons = {{ {buttons} }}\n"
        )
        printer_dev = printer = None
        if self.tickets is not None:
            printer_dev = PtyDevice(devdir, name="usb-Sim_Printer-if00")
            printer = PrinterSimulator(printer_dev, out=self.tickets).start()
            names = ", ".join(
                f"{json.dumps(c)} = {json.dumps(n)}" for c, n in self.category_names.items()
            )
            body += (
                "\n[edge.printer]\n"
                f'port = "{printer_dev.path}"\n'
                f'spool = "{devdir / "tickets.db"}"\n'
                f"waste_bank = {json.dumps(self.waste_bank)}\n"
                "retry_s = 2.0\n"
                f"category_names = {{ {names} }}\n"
            )
        agent = self._agent(device_id, password, body, {})
        return _Station(
            agent, scale_dev, card_dev, scale, cards, printer_dev=printer_dev, printer=printer
        )

    def _start_bin_node(self, i: int, device_id: str, password: str) -> _Agent:
        real_interval = max(2.0, 300.0 / self.speed)  # every 5 simulated minutes, >= 2 s
        body = (
            "\n[[edge.bins]]\n"
            f'bin_id = "{device_id}-a"\n'
            "trigger_pin = 17\necho_pin = 27\n"
            "empty_depth_mm = 1000\nfull_margin_mm = 100\n"
            f"sample_interval_s = {real_interval:.1f}\n"
            "report_delta_pct = 2.0\nheartbeat_s = 60.0\n"
        )
        fill = self.bin_fill_pct[i % len(self.bin_fill_pct)]
        env = {
            "SALINMAS_SIM_FILL": str(fill),
            "SALINMAS_SIM_DAILY_GROWTH": str(self.bin_daily_growth_pct),
            "SALINMAS_SIM_SEED": str(self.seed + 100 + i),
        }
        return self._agent(device_id, password, body, env)

    # ------------------------------------------------------------------ households

    def _thread(self, name: str, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=f"fleet-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def _arrivals(self) -> None:
        """Hand visits to the stations: on a steady real-time beat, or the daily schedule."""
        if self.visit_every_s is not None:
            while not self._stop.wait(self._rng.expovariate(1 / self.visit_every_s)):
                station = self._rng.choice(list(self._stations))
                self._offer(self.population.random_visit(self.clock.now(), station, self._rng))
            return
        last = self.clock.now()
        while not self._stop.wait(1.0):
            now = self.clock.now()
            for visit in self.population.visits_between(last, now):
                self._offer(visit)
            last = now

    def _offer(self, visit: Visit) -> None:
        st = self._stations.get(visit.station_id)
        if st is None:
            return
        try:
            st.visits.put_nowait(visit)
        except queue.Full:
            self.stats["skipped"] += 1  # a queue at the station: they come back another day

    def _serve(self, st: _Station) -> None:
        # the agent opens its ports a moment after it starts; pyserial discards what
        # arrived before, so the first household waits until the card reader is open
        initial = st.card_dev.host_line()
        self._until(lambda: st.card_dev.host_line() != initial, 30)
        while not self._stop.is_set():
            try:
                visit = st.visits.get(timeout=0.5)
            except queue.Empty:
                continue
            if visit is None:
                return
            try:
                self._weigh(st, visit)
                self.stats["visits"] += 1
            except Exception:
                log.exception("visit at %s failed", st.agent.device_id)

    def _weigh(self, st: _Station, visit: Visit) -> None:
        for _ in range(6):  # a card held to the reader for half a second: read every 0.1 s
            st.cards.present(visit.household.card_id, repeats=1)
            if self._stop.wait(0.1):
                return
        minimum = 25 * self.division_g  # below 20 d the station keeps nothing
        for category, grams in visit.items:
            send_control(st.agent.control, f"category {category}")
            if self._stop.wait(0.4):
                return
            st.scale.place(max(grams, minimum))
            if not self._until(lambda: st.scale.stable, 10) or self._stop.wait(2.5):
                return
            self.stats["bags"] += 1  # held stable long enough for the station's window
            st.scale.remove()
            if not self._until(lambda: st.scale.stable, 10) or self._stop.wait(0.8):
                return

    def _until(self, predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() >= deadline or self._stop.wait(0.05):
                return False
        return True

    # ------------------------------------------------------------------ pickups

    def _token(self) -> str | None:
        if self._api_token is None and self.api_login is not None and self.api_url:
            user, password = self.api_login
            body = json.dumps({"username": user, "password": password}).encode()
            req = urllib.request.Request(  # noqa: S310 (http(s) checked in __init__)
                f"{self.api_url}/api/v1/auth/login",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 (our API URL)
                self._api_token = json.loads(resp.read())["access_token"]
        return self._api_token

    def _watch_pickups(self) -> None:
        """Empty a bin (in its agent) once the API shows its pickup done."""
        seen: set[int] | None = None
        bins = {f"{d}-a": a for d, a in self._bin_agents.items()}
        while not self._stop.wait(2.0):
            try:
                done = self._done_pickups(set(bins))
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and self.api_login is not None:
                    self._api_token = None  # expired: log in again next time
                log.debug("pickups poll: %s", exc)
                continue
            except (OSError, ValueError, KeyError) as exc:
                log.debug("pickups poll: %s", exc)
                continue
            self.stats["pickup_polls"] += 1
            if seen is None:
                seen = set(done)
                continue
            for pickup_id, bin_id in done.items():
                if pickup_id not in seen:
                    seen.add(pickup_id)
                    if send_control(bins[bin_id].control, f"empty {bin_id}"):
                        self.stats["emptied"] += 1
                        log.info("pickup %s done: bin %s emptied", pickup_id, bin_id)

    def _done_pickups(self, bin_ids: set[str]) -> dict[int, str]:
        token = self._token()
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{self.api_url}/api/v1/pickups?status=done"
        req = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) checked)
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 (our API URL)
            doc = json.loads(resp.read())
        items = doc.get("items", []) if isinstance(doc, dict) else doc
        return {
            int(p["id"]): p["bin_id"]
            for p in items
            if isinstance(p, dict) and p.get("bin_id") in bin_ids and p.get("status") == "done"
        }

    # ------------------------------------------------------------------ control

    def control(self, device_id: str, line: str) -> bool:
        """Send a control line to one agent (``"fault <bin> no_echo"``, ``"empty <bin>"``)."""
        agent = self._bin_agents.get(device_id)
        if agent is None and device_id in self._stations:
            agent = self._stations[device_id].agent
        return agent is not None and send_control(agent.control, line)

    def station(self, device_id: str) -> tuple[ScaleSimulator, CardReaderSimulator]:
        """The simulated indicator and card reader of a station (to drive by hand)."""
        st = self._stations[device_id]
        return st.scale, st.cards


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    """``salinmas sim fleet``: stations and bins as edge agents against a running broker."""
    import argparse

    from simulators.load import read_accounts

    parser = argparse.ArgumentParser(
        prog="salinmas sim fleet",
        description=(
            "Run simulated scale stations and bins as real edge-agent processes against "
            "a running MQTT broker (and, optionally, the API, to empty bins whose pickup "
            "is done). Device accounts must exist on the broker: list them in --accounts "
            "(one 'device_id:password' per line; ids starting with 'bin' are bins, the "
            "rest stations) or generate --stations/--bins accounts sharing --password. "
            "Households carry the cards in --cards (one id per line, registered in the "
            "cloud so their weigh-ins are credited). Ctrl-C stops everything."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    parser.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    parser.add_argument("--accounts", type=Path, help="file of device_id:password lines")
    parser.add_argument("--stations", type=int, default=2, help="generated station accounts")
    parser.add_argument("--bins", type=int, default=2, help="generated bin accounts")
    parser.add_argument("--password", default="", help="password of generated accounts")
    parser.add_argument("--cards", type=Path, help="file of member card ids, one per line")
    parser.add_argument("--households", type=int, default=20, help="when no --cards")
    parser.add_argument("--day-minutes", type=float, default=5.0, help="real minutes per day")
    parser.add_argument(
        "--visit-every",
        type=float,
        default=8.0,
        help="a household every N real seconds (0: the daily schedule)",
    )
    parser.add_argument("--api-url", help="e.g. http://127.0.0.1:8000 (bins emptied on pickup)")
    parser.add_argument("--api-user", help="API login that may read the pickup board")
    parser.add_argument("--api-password", help="its password (or SALINMAS_SIM_API_PASSWORD)")
    parser.add_argument(
        "--protocols",
        default=",".join(STATION_PROTOCOLS),
        help="indicator protocols the stations take in turn",
    )
    parser.add_argument("--workdir", type=Path, default=Path("var/fleet"))
    parser.add_argument("--duration", type=float, default=0, help="stop after N seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.accounts:
        accounts = read_accounts(args.accounts)
    else:
        accounts = [(f"st-sim-{i:02d}", args.password) for i in range(1, args.stations + 1)]
        accounts += [(f"bin-sim-{i:02d}", args.password) for i in range(1, args.bins + 1)]
    stations = {d: p for d, p in accounts if not d.startswith("bin")}
    bins = {d: p for d, p in accounts if d.startswith("bin")}
    if args.cards:
        cards = [c.strip() for c in args.cards.read_text().splitlines() if c.strip()]
    else:
        cards = [f"1B{0x20000 + i:08X}" for i in range(args.households)]
    login = None
    if args.api_user:
        password = args.api_password or os.environ.get("SALINMAS_SIM_API_PASSWORD", "")
        login = (args.api_user, password)
    try:
        fleet = Fleet(
            workdir=args.workdir,
            mqtt_host=args.host,
            mqtt_port=args.port,
            stations=stations,
            bins=bins,
            cards=cards,
            speed=24 * 60 / args.day_minutes,
            visit_every_s=args.visit_every or None,
            api_url=args.api_url,
            api_login=login,
            protocols=[p.strip() for p in args.protocols.split(",") if p.strip()],
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    started = time.monotonic()
    with on_sigterm(stop.set), fleet:
        print(f"fleet: {len(stations)} stations, {len(bins)} bins; logs in {args.workdir}/")
        try:
            while not stop.wait(10):
                s = fleet.status()
                alive = sum(s["agents"].values())
                print(
                    f"{s['sim_time'][:16]}  visits {s['visits']} (skipped {s['skipped']})  "
                    f"bags {s['bags']}  bins emptied {s['emptied']}  "
                    f"agents up {alive}/{len(s['agents'])}",
                    flush=True,
                )
                if args.duration and time.monotonic() - started >= args.duration:
                    break
        except KeyboardInterrupt:
            pass
    return 0
