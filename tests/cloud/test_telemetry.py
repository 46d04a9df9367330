"""One contract suite for every telemetry backend (InfluxDB 1.6.7 for real, and SQLite).

Each backend is a writer (the ingest's) and a reader (the API's) on the same store;
``also`` fans the ingest's points out to more than one store.

mutant: Fanout.write writes to the first writer only -> test_a_fan_out_writes_every_sink
mutant: InfluxConnection without its Authorization (no BasicAuth) -> test_credentials_...
mutant: credentials put back into the URL (u/p params) -> test_credentials_... (URL check)
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cloud.telemetry import (
    TelemetryPoint,
    TelemetryReader,
    TelemetrySettings,
    TelemetryWriter,
    fill_point,
    health_point,
    open_reader,
    open_writer,
    weighin_point,
)
from cloud.telemetry.influx import InfluxError
from cloud.telemetry.influx_writer import InfluxWriter
from cloud.telemetry.rollups import read_coverage
from contract import SensorFault
from tests.cloud.factories import T0, fill, health, weighin
from tests.support.services import InfluxServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

_db = itertools.count(1)
#: 23:30 in Jakarta (UTC+7) on 1 Nov 2026, and 00:30 on 2 Nov
LATE = datetime(2026, 11, 1, 16, 30, tzinfo=UTC)
EARLY_NEXT = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)
WINDOW = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def _settings(tmp_path: Path, influx: InfluxServer | None) -> TelemetrySettings:
    if influx is None:
        return TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "telemetry.db")
    return TelemetrySettings(
        backend="influx",
        influx_url=influx.url,
        influx_database=f"tel_{next(_db)}",
        buffer_path=tmp_path / "buffer.db",
        flush_interval_s=0.05,
        max_backoff_s=0.5,
    )


class Store:
    """A writer and a reader of one store, used as one in the contract suite."""

    def __init__(self, settings: TelemetrySettings) -> None:
        self.writer = open_writer(settings)
        self.reader = open_reader(settings)
        self.writer.start()

    def write(self, points: list[TelemetryPoint]) -> None:
        self.writer.write(points)

    def flush(self, timeout_s: float) -> bool:
        return self.writer.flush(timeout_s)

    def pending(self) -> int:
        return self.writer.pending()

    def __getattr__(self, name: str) -> object:  # the queries
        return getattr(self.reader, name)

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    influx = request.getfixturevalue("influxdb") if request.param == "influx" else None
    s = Store(_settings(tmp_path, influx))
    yield s
    s.close()


def test_points_are_counted_and_replays_overwrite(store: Store) -> None:
    points = [
        weighin_point(
            weighin(seq=s),
            at=weighin(seq=s).device_time,
            site="bank01",
            status="credited",
            amount_rp=3750,
            price_rp_per_kg=3000,
            household_id=1,
        )
        for s in range(1, 51)
    ]
    store.write(points)
    store.write(points[:10])  # a replay
    assert store.flush(30)
    assert store.count("weighin") == 50
    assert store.pending() == 0


def test_same_millisecond_readings_do_not_collide(store: Store) -> None:
    at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    pts = [
        fill_point(fill(seq=s, device_time=at), at=at, site="bank01", category=None)
        for s in (1, 2, 3)
    ]
    store.write(pts)
    assert store.flush(30)
    assert store.count("fill") == 3


def test_fill_history_of_one_bin(store: Store) -> None:
    evs = [fill(seq=s, fill_pct=10.0 * s) for s in range(1, 6)]
    evs.append(fill(seq=6, fill_pct=None, distance_mm=None, fault=SensorFault.NO_ECHO))
    pts = [fill_point(ev, at=ev.device_time, site="bank01", category="pet") for ev in evs]
    other = fill("bn-other", seq=1, fill_pct=99.0)
    pts.append(fill_point(other, at=other.device_time, site="x", category=None))
    store.write(pts)
    assert store.flush(30)
    day = (T0, T0 + timedelta(days=1))  # up to two days: reading by reading
    hist = store.fill_history(bin_id="bn-bin01", start=day[0], end=day[1])
    assert [h.fill_pct for h in hist] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert hist[0].time == fill(seq=1).device_time
    assert store.fill_history(bin_id="bn-bin01", start=day[1], end=day[1] + timedelta(1)) == []


def test_a_long_fill_history_comes_hourly(store: Store) -> None:
    """Over more than two days, each hour's mean at the hour's start (a month: 720 points).

    mutant: fill_hourly() always False -> readings come back one by one
    """
    evs = [fill(seq=s, fill_pct=float(s)) for s in range(1, 13)]  # 03:10 .. 05:00 UTC
    store.write([fill_point(ev, at=ev.device_time, site="bank01", category="pet") for ev in evs])
    assert store.flush(30)
    week = (T0 - timedelta(days=3), T0 + timedelta(days=4))
    hist = store.fill_history(bin_id="bn-bin01", start=week[0], end=week[1])
    # 03:10-03:50 -> 1..5, 04:00-04:50 -> 6..11, 05:00 -> 12
    assert [(h.time, h.fill_pct) for h in hist] == [
        (T0, 3.0),
        (T0 + timedelta(hours=1), 8.5),
        (T0 + timedelta(hours=2), 12.0),
    ]


def test_kg_and_rupiah_per_category_per_local_day(store: Store) -> None:
    def wp(seq: int, at: datetime, device: str, category: str, status: str = "credited") -> object:
        ev = weighin(device, seq=seq, device_time=at, category=category, net_g=1000 * seq)
        return weighin_point(
            ev,
            at=at,
            site="bank01" if device == "st-bank01" else "bank02",
            status=status,
            amount_rp=ev.net_g * 3,
            price_rp_per_kg=3000,
            household_id=None,
        )

    store.write(
        [
            wp(1, LATE, "st-bank01", "plastic-pet"),  # 1 Nov local
            wp(2, EARLY_NEXT, "st-bank01", "plastic-pet"),  # 2 Nov local
            wp(3, EARLY_NEXT, "st-bank02", "plastic-pet"),
            wp(4, EARLY_NEXT, "st-bank01", "organic"),
            wp(5, EARLY_NEXT, "st-bank01", "organic", status="rejected"),
        ]  # type: ignore[list-item]
    )
    assert store.flush(30)
    days = store.category_days(start=WINDOW[0], end=WINDOW[1])
    got = [(d.day, d.category, d.net_g, d.amount_rp, d.weighins) for d in days]
    assert got == [
        (date(2026, 11, 1), "plastic-pet", 1000, 3000, 1),
        (date(2026, 11, 2), "organic", 4000, 12000, 1),
        (date(2026, 11, 2), "plastic-pet", 5000, 15000, 2),
    ]
    by_site = store.category_days(start=WINDOW[0], end=WINDOW[1], by="site")
    assert [(d.day.day, d.category, d.site, d.net_g) for d in by_site] == [
        (1, "plastic-pet", "bank01", 1000),
        (2, "organic", "bank01", 4000),
        (2, "plastic-pet", "bank01", 2000),
        (2, "plastic-pet", "bank02", 3000),
    ]
    one_station = store.category_days(start=WINDOW[0], end=WINDOW[1], device="st-bank02")
    assert [(d.day.day, d.net_g) for d in one_station] == [(2, 3000)]


def test_device_health_series(store: Store) -> None:
    store.write(
        [
            health_point(health(seq=s, outbox_depth=s * 2, load1=0.5), at=LATE, site="b")
            for s in (1, 2, 3)
        ]
    )
    assert store.flush(30)
    series = store.device_health(device_id="st-bank01", start=WINDOW[0], end=WINDOW[1])
    assert [h.values["outbox_depth"] for h in series] == [2, 4, 6]
    assert series[0].values["load1"] == 0.5
    assert store.device_health(device_id="st-other", start=WINDOW[0], end=WINDOW[1]) == []


@pytest.fixture
def influx_store(influxdb: InfluxServer, tmp_path: Path) -> Iterator[Store]:
    s = Store(_settings(tmp_path, influxdb))
    assert isinstance(s.writer, InfluxWriter)
    yield s
    s.close()


def test_influx_setup_creates_retention_and_continuous_queries(influx_store: Store) -> None:
    writer = influx_store.writer
    assert isinstance(writer, InfluxWriter)
    assert writer.flush(30)
    wait_until(lambda: writer.ready, 10, "setup")
    rps = writer.conn.query("SHOW RETENTION POLICIES")[0]["series"][0]["values"]
    names = {row[0]: row for row in rps}
    assert names["salinmas_raw"][-1] is True  # the default policy
    assert names["salinmas_raw"][1] == "2160h0m0s"
    shown = writer.conn.query("SHOW CONTINUOUS QUERIES")[0]["series"]
    mine = [row[0] for s in shown if s["name"] == writer.conn.database for row in s["values"]]
    # every database gets its own (another test's database has queries of the same names)
    assert sorted(mine) == ["cq_fill_hourly", "cq_weighin_daily", "cq_weighin_daily_site"]
    covered = read_coverage(writer.conn)  # from where the queries' first runs reach
    now = datetime.now(UTC)
    assert now - timedelta(hours=6) < covered["fill_hourly"] <= now
    assert now - timedelta(days=3) < covered["weighin_daily"] <= now
    writer.setup()  # idempotent at every start-up
    assert read_coverage(writer.conn) == covered


def test_influx_outage_is_buffered_and_backfilled(
    influx_store: Store, influxdb: InfluxServer
) -> None:
    wait_until(lambda: influx_store.writer.ready, 10, "setup")  # type: ignore[attr-defined]
    influxdb.pause()
    try:
        pts = [health_point(health(seq=s), at=LATE, site="bank01") for s in range(1, 301)]
        for start in range(0, 300, 100):
            influx_store.write(pts[start : start + 100])  # returns although InfluxDB is down
        assert influx_store.pending() == 300
        assert not influx_store.flush(0.5)
    finally:
        influxdb.resume()
    assert influx_store.flush(60)
    assert influx_store.count("health") == 300


def test_a_fan_out_writes_every_sink(tmp_path: Path) -> None:
    first = TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "a.db")
    second = TelemetrySettings(backend="sqlite", sqlite_path=tmp_path / "b.db")
    writer = open_writer(first.model_copy(update={"also": [second]}))
    assert isinstance(writer, TelemetryWriter)
    writer.start()
    writer.write([health_point(health(seq=s), at=LATE, site="b") for s in (1, 2, 3)])
    assert writer.flush(10)
    writer.close()
    for settings in (first, second):
        reader = open_reader(settings)
        assert isinstance(reader, TelemetryReader)
        assert reader.count("health") == 3
        reader.close()


class _AuthInflux(InfluxServer):
    """InfluxDB 1.6.7 with ``auth-enabled``: every request needs an admin's credentials."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.conf.write_text(
            self.conf.read_text().replace("[http]\n", "[http]\n  auth-enabled = true\n")
        )

    def start(self) -> _AuthInflux:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen([binary, "-config", str(self.conf)], stdout=log, stderr=log)
        wait_until(self.ping, 30, f"influxd on {self.port}", 0.1)
        # the first admin may be created without credentials
        self.query("CREATE USER admin WITH PASSWORD 's3cret-pw' WITH ALL PRIVILEGES", method="POST")
        return self


def test_credentials_travel_in_the_authorization_header_not_the_url(tmp_path: Path) -> None:
    server = _AuthInflux().start()
    try:
        settings = _settings(tmp_path, server).model_copy(
            update={"influx_username": "admin", "influx_password": SecretStr("s3cret-pw")}
        )
        store = Store(settings)
        writer = store.writer
        assert isinstance(writer, InfluxWriter)
        urls: list[str] = []
        for conn in (writer.conn, store.reader.conn):  # type: ignore[attr-defined]
            conn.http.event_hooks["request"].append(lambda r: urls.append(str(r.url)))
        store.write([health_point(health(seq=s), at=LATE, site="b") for s in (1, 2)])
        assert store.flush(30), "the writer could not authenticate"
        assert store.count("health") == 2
        store.close()
        assert urls
        assert not [u for u in urls if "s3cret" in u or "u=admin" in u or "&p=" in u], urls

        wrong = Store(settings.model_copy(update={"influx_password": SecretStr("nope")}))
        with pytest.raises(InfluxError, match="401"):
            wrong.count("health")
        wrong.close()
    finally:
        server.stop()
