"""One contract suite for every telemetry backend (InfluxDB 1.6.7 for real, and SQLite)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cloud.telemetry import (
    InfluxTelemetry,
    TelemetrySettings,
    TelemetryStore,
    fill_point,
    health_point,
    open_store,
    weighin_point,
)
from contract import SensorFault
from tests.cloud.factories import fill, health, weighin
from tests.support.services import InfluxServer, wait_for

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


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TelemetryStore]:
    influx = request.getfixturevalue("influxdb") if request.param == "influx" else None
    s = open_store(_settings(tmp_path, influx))
    s.start()
    yield s
    s.close()


def test_points_are_counted_and_replays_overwrite(store: TelemetryStore) -> None:
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


def test_same_millisecond_readings_do_not_collide(store: TelemetryStore) -> None:
    at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    pts = [
        fill_point(fill(seq=s, device_time=at), received_at=at, site="bank01", category=None)
        for s in (1, 2, 3)
    ]
    store.write(pts)
    assert store.flush(30)
    assert store.count("fill") == 3


def test_fill_history_of_one_bin(store: TelemetryStore) -> None:
    pts = [
        fill_point(fill(seq=s, fill_pct=10.0 * s), received_at=LATE, site="bank01", category="pet")
        for s in range(1, 6)
    ]
    pts.append(
        fill_point(
            fill(seq=6, fill_pct=None, distance_mm=None, fault=SensorFault.NO_ECHO),
            received_at=LATE,
            site="bank01",
            category="pet",
        )
    )
    pts.append(
        fill_point(
            fill("bn-other", seq=1, fill_pct=99.0), received_at=LATE, site="x", category=None
        )
    )
    store.write(pts)
    assert store.flush(30)
    hist = store.fill_history(bin_id="bn-bin01", start=WINDOW[0], end=WINDOW[1])
    assert [h.fill_pct for h in hist] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert hist[0].time == fill(seq=1).device_time
    assert (
        store.fill_history(bin_id="bn-bin01", start=WINDOW[1], end=WINDOW[1] + timedelta(1)) == []
    )


def test_kg_and_rupiah_per_category_per_local_day(store: TelemetryStore) -> None:
    def wp(seq: int, at: datetime, device: str, category: str, status: str = "credited") -> object:
        ev = weighin(device, seq=seq, device_time=at, category=category, net_g=1000 * seq)
        return weighin_point(
            ev, at=at, site="bank01" if device == "st-bank01" else "bank02", status=status,
            amount_rp=ev.net_g * 3, price_rp_per_kg=3000, household_id=None,
        )  # fmt: skip

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


def test_device_health_series(store: TelemetryStore) -> None:
    store.write(
        [
            health_point(health(seq=s, outbox_depth=s * 2, load1=0.5), received_at=LATE, site="b")
            for s in (1, 2, 3)
        ]
    )
    assert store.flush(30)
    series = store.device_health(device_id="st-bank01", start=WINDOW[0], end=WINDOW[1])
    assert [h.values["outbox_depth"] for h in series] == [2, 4, 6]
    assert series[0].values["load1"] == 0.5
    assert store.device_health(device_id="st-other", start=WINDOW[0], end=WINDOW[1]) == []


@pytest.fixture
def influx_store(influxdb: InfluxServer, tmp_path: Path) -> Iterator[InfluxTelemetry]:
    s = open_store(_settings(tmp_path, influxdb))
    assert isinstance(s, InfluxTelemetry)
    s.start()
    yield s
    s.close()


def test_influx_setup_creates_retention_and_continuous_queries(
    influx_store: InfluxTelemetry,
) -> None:
    assert influx_store.flush(30)
    wait_for(lambda: influx_store.ready, 10, "setup")
    rps = influx_store.query("SHOW RETENTION POLICIES")[0]["series"][0]["values"]
    names = {row[0]: row for row in rps}
    assert names["salinmas_raw"][-1] is True  # the default policy
    assert names["salinmas_raw"][1] == "2160h0m0s"
    cqs = str(influx_store.query("SHOW CONTINUOUS QUERIES"))
    assert "cq_fill_hourly" in cqs
    assert "cq_weighin_daily" in cqs
    influx_store.setup()  # idempotent at every start-up


def test_influx_outage_is_buffered_and_backfilled(
    influx_store: InfluxTelemetry, influxdb: InfluxServer
) -> None:
    wait_for(lambda: influx_store.ready, 10, "setup")
    influxdb.pause()
    try:
        pts = [health_point(health(seq=s), received_at=LATE, site="bank01") for s in range(1, 301)]
        for start in range(0, 300, 100):
            influx_store.write(pts[start : start + 100])  # returns although InfluxDB is down
        assert influx_store.pending() == 300
        assert not influx_store.flush(0.5)
    finally:
        influxdb.resume()
    assert influx_store.flush(60)
    assert influx_store.count("health") == 300
